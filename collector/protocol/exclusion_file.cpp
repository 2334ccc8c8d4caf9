// The exclusion file (exclusion_file.h).
#include "protocol/exclusion_file.h"

#include "protocol/exclusion_syntax.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include <charconv>

namespace mso {
namespace {

using json = nlohmann::ordered_json;

constexpr std::string_view k_marker = "# mso-exclusion id=";
constexpr long k_max_local_id = 99'999;

std::string text_of(const json& j, const char* key)
{
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::uint64_t count_of(const json& j, const char* key)
{
    const auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer() || it->get<std::int64_t>() < 0) {
        return 0;
    }
    return it->get<std::uint64_t>();
}

std::optional<long> number(std::string_view text)
{
    long value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

// The key a spec must have: the daemon's, rebuilt from the checked fields (a key that
// differs was not made by this version, or was tampered with).
std::string key_of(const ExclusionSpec& s)
{
    return s.host + " " + s.rule + " " + (s.target.empty() ? "*" : s.target) + " " + s.match + " " +
           (s.path.empty() ? "*" : s.path) + (s.method.empty() ? "" : " " + s.method);
}

std::string check(const ExclusionSpec& s)
{
    if (!safe_host(s.host)) {
        return "the host cannot be written safely";
    }
    if (!safe_rule_id(s.rule)) {
        return "the rule id is not a number";
    }
    if (!s.target.empty() && !safe_target(s.target)) {
        return "the target has characters an exclusion cannot carry safely";
    }
    if (s.match != "any" && s.match != "exact" && s.match != "prefix") {
        return "unknown path match";
    }
    if (s.match != "any" && !safe_path(s.path)) {
        return "the path has characters an exclusion cannot carry safely";
    }
    if (s.match == "any" && !s.path.empty()) {
        return "a host-wide exclusion with a path";
    }
    if (!s.method.empty() && (s.match == "any" || !safe_method(s.method))) {
        return "the method cannot be written safely (only A-Z) or has no path";
    }
    if (s.key != key_of(s)) {
        return "its key does not match its fields";
    }
    // The key is written into a comment line as it is: printable ASCII only (the checks
    // above already imply it; this keeps it true whatever they become).
    if (!std::all_of(s.key.begin(), s.key.end(), [](char c) { return c >= 0x20 && c < 0x7f; })) {
        return "its key has control or non-ASCII characters";
    }
    return {};
}

} // namespace

std::string comment_safe(std::string_view text, std::size_t max)
{
    std::string out;
    for (char c : text) {
        if (out.size() >= max) {
            out += "...";
            break;
        }
        const auto u = static_cast<unsigned char>(c);
        out += u >= 0x20 && u < 0x7f && c != '\\' ? c : '?';
    }
    return out;
}

Result<IdRange> parse_id_range(std::string_view text)
{
    const std::size_t dash = text.find('-');
    const auto first = dash == std::string_view::npos ? std::nullopt : number(text.substr(0, dash));
    const auto last = dash == std::string_view::npos ? std::nullopt : number(text.substr(dash + 1));
    if (!first || !last || *first < 1 || *last > k_max_local_id || *first > *last) {
        return fail("--id-range: expected FIRST-LAST within 1-99999 (the ids for local use; "
                    "the CRS owns 900000-999999), got \"" +
                    comment_safe(text, 40) + "\"");
    }
    return IdRange{*first, *last};
}

std::vector<ExclusionSpec> specs_from_answer(const json& answer, std::vector<std::string>& rejected)
{
    std::vector<ExclusionSpec> out;
    const auto list = answer.find("exclusions");
    if (list == answer.end() || !list->is_array()) {
        return out;
    }
    for (const json& x : *list) {
        if (!x.is_object()) {
            rejected.push_back("an exclusion that is not an object");
            continue;
        }
        ExclusionSpec s;
        s.key = text_of(x, "key");
        s.host = text_of(x, "host");
        s.rule = text_of(x, "rule");
        s.target = text_of(x, "target");
        s.match = text_of(x, "match");
        s.path = text_of(x, "path");
        s.method = text_of(x, "method");
        s.why = text_of(x, "why");
        s.hits = count_of(x, "hits");
        s.requests = count_of(x, "requests");
        s.clients = count_of(x, "clients");
        s.first_seen = text_of(x, "first_seen");
        s.last_seen = text_of(x, "last_seen");
        s.removes_blocks = count_of(x, "removes_blocks");
        s.removes_blocks_clients = count_of(x, "removes_blocks_clients");
        s.releases_attacks = count_of(x, "releases_attacks");
        if (const auto ex = x.find("examples"); ex != x.end() && ex->is_array()) {
            for (const json& e : *ex) {
                if (e.is_string()) {
                    s.examples.push_back(e.get<std::string>());
                }
            }
        }
        if (const std::string why = check(s); !why.empty()) {
            rejected.push_back("rule " + comment_safe(s.rule, 20) + " target " +
                               comment_safe(s.target, 80) + " path " + comment_safe(s.path, 80) +
                               ": " + why);
            continue;
        }
        out.push_back(std::move(s));
    }
    return out;
}

std::map<std::string, long> ids_in_file(std::string_view text)
{
    std::map<std::string, long> out;
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (!line.starts_with(k_marker)) {
            continue;
        }
        line.remove_prefix(k_marker.size());
        const std::size_t space = line.find(' ');
        constexpr std::string_view k_key = " key=";
        if (space == std::string_view::npos || line.substr(space, k_key.size()) != k_key) {
            continue;
        }
        const auto id = number(line.substr(0, space));
        if (id) {
            out.emplace(std::string(line.substr(space + k_key.size())), *id);
        }
    }
    return out;
}

Result<void> assign_ids(std::vector<ExclusionSpec>& specs,
                        const std::map<std::string, long>& previous, const IdRange& range,
                        const std::set<long>& taken, std::vector<std::string>& moved)
{
    std::set<long> used;
    std::vector<std::pair<ExclusionSpec*, long>> pending; // spec, its colliding old id (0: new)
    for (ExclusionSpec& s : specs) {
        const auto it = previous.find(s.key);
        if (it == previous.end()) {
            pending.emplace_back(&s, 0);
        } else if (taken.contains(it->second) || used.contains(it->second) ||
                   it->second < range.first || it->second > range.last) {
            pending.emplace_back(&s, it->second);
        } else {
            s.id = it->second;
            used.insert(it->second);
        }
    }
    long next = range.first;
    for (auto& [s, old] : pending) {
        while (next <= range.last && (taken.contains(next) || used.contains(next))) {
            ++next;
        }
        if (next > range.last) {
            return fail("--id-range " + std::to_string(range.first) + "-" +
                        std::to_string(range.last) + " has no free id left for " +
                        std::to_string(specs.size()) + " exclusions");
        }
        s->id = next;
        used.insert(next);
        if (old != 0) {
            moved.push_back("id " + std::to_string(old) + " (" + s->key +
                            ") is taken or outside the range: moved to " + std::to_string(next));
        }
    }
    return ok();
}

FileHeader header_from_answer(const json& answer)
{
    FileHeader h;
    h.vhost = text_of(answer, "vhost");
    h.crs_version = text_of(answer, "crs_version");
    if (const auto pl = answer.find("paranoia_level");
        pl != answer.end() && pl->is_number_integer()) {
        h.paranoia_level = pl->get<int>();
    }
    h.since = text_of(answer, "since");
    h.until = text_of(answer, "until");
    h.events = count_of(answer, "events");
    if (const auto w = answer.find("what_if"); w != answer.end() && w->is_object()) {
        h.would_block = count_of(*w, "would_block");
        h.would_block_after = count_of(*w, "would_block_after");
        h.attacks_caught = count_of(*w, "attacks_caught");
        h.attacks_caught_after = count_of(*w, "attacks_caught_after");
        if (const auto c = w->find("caveats"); c != w->end() && c->is_array()) {
            for (const json& line : *c) {
                if (line.is_string()) {
                    h.caveats.push_back(line.get<std::string>());
                }
            }
        }
    }
    return h;
}

std::string render_exclusion_file(const FileHeader& h, const std::vector<ExclusionSpec>& specs)
{
    std::string out;
    auto line = [&out](std::string_view text) {
        out += "# ";
        out += comment_safe(text, 400);
        out += '\n';
    };
    line("modsec-observe tune: run-time exclusions for the vhost " + h.vhost);
    line(
        "Made for CRS " +
        (h.crs_version.empty() ? std::string("(version not seen)") : h.crs_version) +
        " at blocking paranoia level " +
        (h.paranoia_level == 0 ? std::string("(not recorded)") : std::to_string(h.paranoia_level)) +
        ", from " + std::to_string(h.events) + " recorded requests, " + h.since + " to " + h.until +
        ".");
    line("Include this file BEFORE the CRS (where REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf");
    line("is included). Each exclusion applies to requests whose SERVER_NAME (the host name");
    line("the client asked for) is the vhost's name: an alias needs its own rule.");
    if (h.ids_kept) {
        line("A rerun keeps the ids of the exclusions it proposed before (the mso-exclusion "
             "lines).");
    } else {
        line("Rendered by the dashboard, which has no previous version of this file: the ids");
        line("start at the first of the range. For ids kept across reruns and checked against");
        line(
            "the rule ids Apache loads, use: modsec-observe tune --output FILE --check-config ...");
    }
    line("What-if: requests blocked or that would be " + std::to_string(h.would_block) + " -> " +
         std::to_string(h.would_block_after) + "; attacks caught " +
         std::to_string(h.attacks_caught) + " -> " + std::to_string(h.attacks_caught_after) + ".");
    for (const std::string& c : h.caveats) {
        line("Caveat: " + c);
    }
    for (const std::string& r : h.rejected) {
        line("Not written (failed the checks): " + r);
    }
    if (specs.empty()) {
        line("No exclusion proposed.");
    }
    for (const ExclusionSpec& s : specs) {
        out += '\n';
        out += std::string(k_marker) + std::to_string(s.id) + " key=" + s.key + "\n";
        line("rule " + s.rule + (s.target.empty() ? " (whole rule)" : " target " + s.target) +
             (s.match == "any" ? " on every path"
                               : (s.match == "prefix" ? " on paths under " : " on ") + s.path) +
             (s.method.empty() ? "" : ", method " + s.method + " only"));
        line("evidence: " + std::to_string(s.hits) + " hits in " + std::to_string(s.requests) +
             " requests from " + std::to_string(s.clients) + " clients, " + s.first_seen + " to " +
             s.last_seen);
        std::string examples;
        for (const std::string& e : s.examples) {
            examples += (examples.empty() ? "" : ", ") + e;
        }
        line("examples (unique ids): " + (examples.empty() ? std::string("none") : examples));
        line("would-block requests it removes: " + std::to_string(s.removes_blocks) + " (" +
             std::to_string(s.removes_blocks_clients) +
             " clients; released by the proposals, with this exclusion's part)");
        line("why this scope: " + s.why);
        if (s.releases_attacks > 0) {
            line("WARNING: it also helps release " + std::to_string(s.releases_attacks) +
                 " caught attack requests (what-if): narrow it or leave it out");
        }
        const std::string ctl = s.target.empty()
                                    ? "ctl:ruleRemoveById=" + s.rule
                                    : "ctl:ruleRemoveTargetById=" + s.rule + ";" + s.target;
        const std::string id = "id:" + std::to_string(s.id);
        if (s.match == "any") {
            out += "SecRule SERVER_NAME \"@streq " + s.host + "\" \\\n    \"" + id +
                   ",phase:1,pass,nolog,t:none,t:lowercase," + ctl + "\"\n";
        } else {
            const char* op = s.match == "prefix" ? "@beginsWith " : "@streq ";
            out += "SecRule SERVER_NAME \"@streq " + s.host + "\" \\\n    \"" + id +
                   ",phase:1,pass,nolog,t:none,t:lowercase,chain\"\n";
            if (!s.method.empty()) {
                out += "    SecRule REQUEST_METHOD \"@streq " + s.method +
                       "\" \\\n        \"t:none,chain\"\n";
            }
            out += "    SecRule REQUEST_FILENAME \"" + std::string(op) + s.path +
                   "\" \\\n        \"t:none," + ctl + "\"\n";
        }
    }
    return out;
}

Result<std::string> exclusion_file_from_answer(std::string_view answer_line, const IdRange& range)
{
    const json answer = json::parse(answer_line, nullptr, false);
    if (answer.is_discarded() || !answer.is_object()) {
        return fail("the collector's tune answer is not a JSON object");
    }
    if (const auto ok = answer.find("ok");
        ok == answer.end() || !ok->is_boolean() || !ok->get<bool>()) {
        const std::string error = text_of(answer, "error");
        return fail(error.empty() ? std::string("the collector answered tune with an error")
                                  : error);
    }
    FileHeader header = header_from_answer(answer);
    header.ids_kept = false;
    std::vector<ExclusionSpec> specs = specs_from_answer(answer, header.rejected);
    std::vector<std::string> moved; // stays empty: no previous ids, none taken
    if (auto assigned = assign_ids(specs, {}, range, {}, moved); !assigned) {
        return fail(assigned.error());
    }
    return render_exclusion_file(header, specs);
}

std::string exclusion_file_name(std::string_view vhost)
{
    return safe_host(vhost) ? "modsec-observe-exclusions-" + std::string(vhost) + ".conf"
                            : std::string("modsec-observe-exclusions.conf");
}

} // namespace mso
