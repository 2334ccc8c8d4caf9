// The exclusion file `modsec-observe tune` writes and the dashboard offers
// (`/api/tune_file`): run-time exclusions (ctl actions in
// rules scoped by SERVER_NAME and REQUEST_FILENAME) for inclusion BEFORE the CRS, each
// with a comment carrying its evidence and a marker line with a stable key, so that a
// rerun keeps the ids it gave before (stable diffs). The proposals come from the
// daemon's `tune` answer (docs/protocol.md); every value is checked again here
// (protocol/exclusion_syntax.h) and one that fails is reported, never written. Comment
// text is reduced to printable ASCII without backslashes (a trailing backslash would
// continue an Apache comment onto the next line). Pure, but for nothing: no I/O.
#pragma once

#include "util/result.h"

#include <nlohmann/json_fwd.hpp>

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace mso {

struct ExclusionSpec {
    std::string key;
    std::string host;
    std::string rule;
    std::string target; // "": the whole rule
    std::string match;  // "exact", "prefix" or "any"
    std::string path;
    std::string method; // "": any method
    std::string why;
    std::uint64_t hits = 0;
    std::uint64_t requests = 0;
    std::uint64_t clients = 0;
    std::string first_seen;
    std::string last_seen;
    std::vector<std::string> examples;
    std::uint64_t removes_blocks = 0;
    std::uint64_t removes_blocks_clients = 0;
    std::uint64_t releases_attacks = 0; // caught attack requests it helps release
    long id = 0;                        // assigned by assign_ids()
};

struct IdRange {
    long first = 10000;
    long last = 19999;
};

// "10000-19999" (both within 1-99,999, the ids for local use, first <= last).
[[nodiscard]] Result<IdRange> parse_id_range(std::string_view text);

// The proposals of a tune answer; those that fail the checks go to `rejected` as
// plain-language lines.
[[nodiscard]] std::vector<ExclusionSpec> specs_from_answer(const nlohmann::ordered_json& answer,
                                                           std::vector<std::string>& rejected);

// key -> id of the marker lines of a file this writer wrote before.
[[nodiscard]] std::map<std::string, long> ids_in_file(std::string_view text);

// Gives every spec an id in `range`: the one of the previous file when it has its key
// and that id is free, else the lowest free one. `taken` are ids loaded elsewhere
// (another file, the CRS): a previous id among them is moved, with a line in `moved`.
// Fails when the range has no free id left.
[[nodiscard]] Result<void> assign_ids(std::vector<ExclusionSpec>& specs,
                                      const std::map<std::string, long>& previous,
                                      const IdRange& range, const std::set<long>& taken,
                                      std::vector<std::string>& moved);

struct FileHeader {
    std::string vhost;
    std::string crs_version; // "3", "4" or ""
    int paranoia_level = 0;
    std::string since;
    std::string until;
    std::uint64_t events = 0;
    std::uint64_t would_block = 0;
    std::uint64_t would_block_after = 0;
    std::uint64_t attacks_caught = 0;
    std::uint64_t attacks_caught_after = 0;
    std::vector<std::string> caveats;
    // false: rendered without a previous file to keep ids from (the dashboard); the
    // header then says so and points to the CLI.
    bool ids_kept = true;
    // Proposals that failed the checks (specs_from_answer), named in the header; the
    // CLI reports them on its own and leaves this empty.
    std::vector<std::string> rejected;
};

[[nodiscard]] FileHeader header_from_answer(const nlohmann::ordered_json& answer);

// The whole file.
[[nodiscard]] std::string render_exclusion_file(const FileHeader& header,
                                                const std::vector<ExclusionSpec>& specs);

// The file the dashboard offers for the `tune` answer line `answer_line`, rendered as
// the CLI renders it but without a previous file (ids from range.first up) and with the
// rejected proposals in the header. Fails with the answer's error when it is one, or
// when the line is not a JSON object.
[[nodiscard]] Result<std::string> exclusion_file_from_answer(std::string_view answer_line,
                                                             const IdRange& range);

// "modsec-observe-exclusions-<vhost>.conf" when the vhost passes safe_host (so it can
// sit in a Content-Disposition header as it is), else "modsec-observe-exclusions.conf".
[[nodiscard]] std::string exclusion_file_name(std::string_view vhost);

// `text` as one safe comment line's content: printable ASCII but '\', at most `max` bytes.
[[nodiscard]] std::string comment_safe(std::string_view text, std::size_t max = 200);

} // namespace mso
