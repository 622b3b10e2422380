//===- FileUtil.h - Reading and writing motec's files -----------*- C++ -*-===//
//
// Whole-file reads and atomic writes: a file or a directory of files is
// written through a temporary sibling and renamed into place, so a failed
// command leaves no partial output.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_TOOLS_MOTEC_FILEUTIL_H
#define MOTE_TOOLS_MOTEC_FILEUTIL_H

#include "codegen/Output.h"
#include "compiler/Diagnostic.h"

#include <filesystem>
#include <string>
#include <vector>

namespace mote::cli {

/// The bytes of \p P; an error names the file.
Expected<std::string> readWholeFile(const std::filesystem::path &P);

/// Writes \p Text to \p P through a temporary sibling and a rename.
Status writeFileAtomically(const std::filesystem::path &P,
                           const std::string &Text);

/// Writes \p Files under \p Dir through a temporary sibling directory;
/// existing files of the same names in \p Dir are replaced, others are kept.
Status writeFilesAtomically(const std::filesystem::path &Dir,
                            const std::vector<EmittedFile> &Files);

} // namespace mote::cli

#endif // MOTE_TOOLS_MOTEC_FILEUTIL_H
