# lit configuration of mote's text tests: golden IR tests (ir/) and
# command-line tests of motec (cli/). Each test file holds RUN lines;
# %mote-opt, %motec, %FileCheck, %not and %python are substituted with the
# tools of the build (see lit.site.cfg.py.in).
import lit.formats

config.name = "mote"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mote", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.mote_binary_dir, "tests", "lit")
config.excludes = ["unit", "onnx", "models", "e2e", "Inputs", "fuzz", "robust", "memory"]
config.substitutions.append(("%mote-opt", os.path.join(config.mote_bin_dir, "mote-opt")))
config.substitutions.append(("%motec", os.path.join(config.mote_bin_dir, "motec")))
config.substitutions.append(("%FileCheck", config.filecheck))
config.substitutions.append(("%not", config.not_tool))
config.substitutions.append(("%python", config.python))
# %exit CODE CMD...: CMD must exit with CODE (0 ok, 1 user error, 2 usage).
config.substitutions.append(("%exit", config.python + " " + os.path.join(
    os.path.dirname(__file__), "cli", "Inputs", "expect_exit.py")))
