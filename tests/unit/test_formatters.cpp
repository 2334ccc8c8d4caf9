// The CLI's formatters (cli/formatters.cpp, cli/formatters_lists.cpp) on what a hostile
// or broken collector could send: terminal controls (ESC, CSI, OSC, C1, bidi), NUL,
// invalid UTF-8, wrong types, missing keys, empty arrays and huge numbers. The text must
// stay terminal-safe and nothing may crash; partial answers show what they hold.
#include "cli/formatters.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace {

using json = nlohmann::ordered_json;
using Formatter = std::string (*)(const json&);

struct NamedFormatter {
    const char* name;
    Formatter format;
};

const std::vector<NamedFormatter> k_formatters = {
    {"stats", mso::format_stats},           {"events", mso::format_events},
    {"event_line", mso::format_event_line}, {"vhosts", mso::format_vhosts},
    {"rules", mso::format_rules},           {"top", mso::format_top},
    {"timeseries", mso::format_timeseries}, {"health", mso::format_health},
    {"sources", mso::format_sources},
};

// Decodes one UTF-8 code point at `i`; -1 when the bytes are not well-formed UTF-8.
long next_code_point(const std::string& s, std::size_t& i)
{
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char b = byte(i);
    std::size_t length = 0;
    long cp = 0;
    if (b < 0x80) {
        ++i;
        return b;
    }
    if (b >= 0xc2 && b <= 0xdf) {
        length = 2;
        cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
        length = 3;
        cp = b & 0x0f;
    } else if (b >= 0xf0 && b <= 0xf4) {
        length = 4;
        cp = b & 0x07;
    } else {
        return -1;
    }
    if (i + length > s.size()) {
        return -1;
    }
    for (std::size_t k = 1; k < length; ++k) {
        if ((byte(i + k) & 0xc0) != 0x80) {
            return -1;
        }
        cp = (cp << 6) | (byte(i + k) & 0x3f);
    }
    i += length;
    const long min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[length] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return -1;
    }
    return cp;
}

// Empty when `text` is safe to print: valid UTF-8, no control but '\n', no C1, no bidi
// override or isolate, no line or paragraph separator; else what is wrong.
std::string unsafe(const std::string& text)
{
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t at = i;
        const long cp = next_code_point(text, i);
        const bool bad = cp < 0 || (cp < 0x20 && cp != '\n') || (cp >= 0x7f && cp <= 0x9f) ||
                         (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
                         cp == 0x2028 || cp == 0x2029;
        if (bad) {
            return "unsafe byte at " + std::to_string(at) + ": " +
                   std::to_string(static_cast<unsigned char>(text[at]));
        }
    }
    return "";
}

// Strings that would act on a terminal printed raw.
const std::vector<std::string> k_hostile_strings = {
    "\x1b[2J\x1b[H",                       // CSI: clear the screen
    "\x1b]0;owned\x07",                    // OSC: set the window title
    "\x1b]8;;http://x/\x1b\\link\x1b]8;;", // OSC 8 hyperlink
    "\xc2\x9b"
    "31m", // C1 CSI
    "\xc2\x9d"
    "0;t\xc2\x9c", // C1 OSC ... ST
    "abc\xe2\x80\xae"
    "gpj.exe",                          // RLO (bidi override)
    "\xe2\x81\xa6isolate\xe2\x81\xa9",  // LRI ... PDI
    std::string("nul\0byte", 8),        // NUL
    "line\nbreak\r\ttab\x7f",           // C0 and DEL
    "\xff\xfe\xc0\xaf",                 // invalid UTF-8, an overlong '/'
    "\xe2\x80\xa8sep\xe2\x80\xa9",      // line and paragraph separators
    std::string(5000, 'x') + "\x1b[0m", // long
    "",
};

// Values of every type, including numbers at and beyond the edges.
std::vector<json> hostile_values()
{
    std::vector<json> values;
    for (const std::string& s : k_hostile_strings) {
        values.emplace_back(s);
    }
    values.emplace_back(nullptr);
    values.emplace_back(true);
    values.emplace_back(std::numeric_limits<std::uint64_t>::max());
    values.emplace_back(std::numeric_limits<std::int64_t>::min());
    values.emplace_back(-1);
    values.emplace_back(1e308);
    values.emplace_back(-0.0);
    values.emplace_back(json::array());
    values.emplace_back(json::object());
    values.emplace_back(json::array({"\x1b[2J", 1, nullptr}));
    values.emplace_back(json{{"\x1b[31m", "\xc2\x9b"}});
    return values;
}

// Every key some formatter reads.
const char* const k_keys[] = {
    "vhost",
    "ports",
    "requests",
    "flagged",
    "intercepted",
    "would_block",
    "events",
    "events_lost",
    "status",
    "truncated_findings",
    "engine_messages",
    "events_without_scores",
    "rules",
    "id",
    "msg",
    "severity",
    "pl",
    "hits",
    "matches",
    "first_seen",
    "last_seen",
    "top_paths",
    "top_targets",
    "top_pairs",
    "top_since",
    "target",
    "value",
    "count",
    "error",
    "error_bound",
    "series",
    "resolution",
    "points",
    "time",
    "rule_hits",
    "client",
    "method",
    "path",
    "engine",
    "top",
    "vhosts",
    "malformed_by_reason",
    "uptime_s",
    "rss_bytes",
};

// An object with every key set to `v`, and a key of its own that is hostile.
json flat(const json& v)
{
    json out = json::object();
    for (const char* key : k_keys) {
        out[key] = v;
    }
    out["\x1b[31m\xc2\x9b\xe2\x80\xae"] = v;
    return out;
}

// `v` everywhere: as every field, as array elements and as nested objects' fields.
json poisoned(const json& v)
{
    const json entry = flat(v);
    json nested = entry;
    for (const char* key :
         {"rules", "top_paths", "top_targets", "top_pairs", "points", "top_clients"}) {
        nested[key] = json::array({entry, v, json::object()});
    }
    nested["status"] = json{{"200", v}, {"\x1b[2J", v}};
    nested["ports"] = json::array({v, v});
    nested["malformed_by_reason"] = json{{"\x1b]0;x\x07", v}};
    nested["refusals"] = json{{"\x1b]0;x\x07", v}, {"auth", v}};
    nested["clock_skew_s"] = json{{"min", v}, {"max", v}, {"last", v}};
    nested["source"] = v;
    json answer = nested;
    for (const char* key : {"vhosts", "rules", "top", "series", "events", "sources", "history"}) {
        answer[key] = json::array({nested, v, json::object()});
    }
    return answer;
}

TEST(Formatters, HostileAnswersStayTerminalSafe)
{
    for (const json& v : hostile_values()) {
        const json answers[] = {poisoned(v), flat(v), v};
        for (const json& answer : answers) {
            for (const NamedFormatter& f : k_formatters) {
                SCOPED_TRACE(
                    std::string(f.name) + " of " +
                    answer.dump(-1, ' ', true, json::error_handler_t::replace).substr(0, 200));
                const std::string text = f.format(answer);
                EXPECT_EQ(unsafe(text), "");
                EXPECT_TRUE(text.empty() || text.back() == '\n');
            }
        }
    }
}

TEST(Formatters, EscapesAreShownNotSent)
{
    const json answer = {{"vhosts", json::array({{{"vhost", "a\x1b[2Jb"}, {"requests", 1}}})}};
    const std::string text = mso::format_vhosts(answer);
    EXPECT_NE(text.find("a\\x1b[2Jb"), std::string::npos) << text;
    const json event = {{"vhost", "v\xc2\x9b"},
                        {"client", "c\xe2\x80\xae"},
                        {"method", "GET"},
                        {"path", std::string("/\0x", 3)}};
    const std::string line = mso::format_event_line(event);
    EXPECT_NE(line.find("v\\u009b"), std::string::npos) << line;
    EXPECT_NE(line.find("c\\u202e"), std::string::npos) << line;
    EXPECT_NE(line.find("/\\x00x"), std::string::npos) << line;
}

// Source names come from receivers (a sensor's name) and imports: a hostile one is shown
// escaped in the SOURCE column, which appears only when the rows name several sources.
TEST(Formatters, HostileSourceNamesAreEscapedInEveryView)
{
    const std::string hostile = "sensor:\x1b[2J\xc2\x9b"
                                "evil\xe2\x80\xae";
    const std::string shown = "sensor:\\x1b[2J\\u009bevil\\u202e";
    auto row = [&](const char* source) {
        return json{{"source", source},
                    {"vhost", "v"},
                    {"requests", 1},
                    {"value", "x"},
                    {"count", 1},
                    {"id", "942100"},
                    {"resolution", "minute"},
                    {"points", json::array()},
                    {"events", 3},
                    {"refusals", json{{"auth\x1b[1m", 2}}},
                    {"last_seen_ago_s", 5}};
    };
    json two = json::array({row("module"), row("module")});
    two[1]["source"] = hostile;
    const json answer = {{"vhosts", two}, {"rules", two},   {"top", two},    {"series", two},
                         {"events", two}, {"sources", two}, {"history", two}};
    for (const NamedFormatter& f : k_formatters) {
        if (std::string(f.name) == "event_line" || std::string(f.name) == "health") {
            continue;
        }
        SCOPED_TRACE(f.name);
        const std::string text = f.format(answer);
        EXPECT_EQ(unsafe(text), "");
        EXPECT_NE(text.find(shown), std::string::npos) << text;
    }
    // One source: no SOURCE column, the views look as before.
    const json one = {{"vhosts", json::array({row("module")})}};
    EXPECT_EQ(mso::format_vhosts(one).find("SOURCE"), std::string::npos);
    EXPECT_NE(mso::format_vhosts(answer).find("SOURCE"), std::string::npos);
    EXPECT_NE(mso::format_sources(answer).find("auth\\x1b[1m 2"), std::string::npos)
        << mso::format_sources(answer);
}

TEST(Formatters, SourcesShowHowLongAgoAndSkew)
{
    const json answer = json::parse(R"({"sources":[{"source":"sensor:web2","events":12,
        "bytes":4096,"last_seen":"2025-11-21T15:40:00Z","last_seen_ago_s":7260,
        "clock_skew_s":{"min":-1.5,"max":2.0,"last":0.5},"refused":3,
        "refusals":{"auth":2,"too_large":1}}],
        "history":[{"source":"import:old","events":9,"last_event_time":"2025-10-01T00:00:00Z"}]})");
    const std::string text = mso::format_sources(answer);
    EXPECT_NE(text.find("sensor:web2"), std::string::npos) << text;
    EXPECT_NE(text.find("2h ago"), std::string::npos) << text;
    EXPECT_NE(text.find("-1.5..+2.0 (last +0.5)"), std::string::npos) << text;
    EXPECT_NE(text.find("auth 2, too_large 1"), std::string::npos) << text;
    EXPECT_NE(text.find("in history:"), std::string::npos) << text;
    EXPECT_NE(text.find("import:old"), std::string::npos) << text;
    EXPECT_EQ(mso::format_sources(json::object()), "no live sources yet\n");
}

struct PartialCase {
    const char* name;
    Formatter format;
    const char* answer;
    std::vector<std::string> shown; // each appears in the text
};

// Answers with missing keys, wrong types and empty arrays: what is there is shown,
// what is not shows as "-" or a note.
TEST(Formatters, PartialAnswers)
{
    const std::vector<PartialCase> cases = {
        {"stats: nothing", mso::format_stats, R"({})", {"no vhosts seen yet\n"}},
        {"stats: empty", mso::format_stats, R"({"vhosts":[]})", {"no vhosts seen yet\n"}},
        {"stats: vhosts not an array",
         mso::format_stats,
         R"({"vhosts":{"a":1}})",
         {"no vhosts seen yet\n"}},
        {"stats: a vhost with a name only",
         mso::format_stats,
         R"({"vhosts":[{"vhost":"a"}]})",
         {"VHOST", "a  ", "status: -", "no rules matched"}},
        {"stats: an empty vhost name", mso::format_stats, R"({"vhosts":[{"vhost":""}]})", {"\"\""}},
        {"stats: the configured engine",
         mso::format_stats,
         R"({"vhosts":[{"vhost":"a","engine":"detection_only"},{"vhost":"b","engine":"on"},)"
         R"({"vhost":"c","engine":"\u001b[2J"}]})",
         {"SecRuleEngine: DetectionOnly (nothing is blocked", "SecRuleEngine: On\n",
          "SecRuleEngine: \\x1b[2J"}},
        {"stats: more rules than shown",
         mso::format_stats,
         R"({"vhosts":[{"vhost":"a","rules":[{},{},{},{},{},{},{},{},{},{},{},{}]}]})",
         {"... and 2 more rules (--json for all)"}},
        {"stats: warnings",
         mso::format_stats,
         R"({"vhosts":[{"vhost":"a","truncated_findings":2,"engine_messages":3,)"
         R"("events_without_scores":4,"status":{"403":5}}]})",
         {"truncated findings: 2", "engine messages: 3", "events without anomaly scores: 4",
          "status: 403: 5"}},
        {"events: nothing", mso::format_events, R"({})", {"no events\n"}},
        {"events: an empty event", mso::format_events, R"({"events":[{}]})", {"TIME", "pass"}},
        {"events: engine and truncated findings",
         mso::format_events,
         R"({"events":[{"intercepted":true,"rules":[{"engine":true},{"id":""},{"id":"1"},{"id":"1"}]}]})",
         {"blocked", "(engine),(truncated),1\n"}},
        {"event line: time",
         mso::format_event_line,
         R"({"time":"2025-11-21T15:40:00.123456Z"})",
         {"2025-11-21 15:40:00 "}},
        {"vhosts: nothing", mso::format_vhosts, R"({"vhosts":"x"})", {"no vhosts yet\n"}},
        {"rules: nothing", mso::format_rules, R"({"rules":[]})", {"no rules matched\n"}},
        {"rules: a bare rule",
         mso::format_rules,
         R"({"rules":[{"id":"942100"}]})",
         {"-  942100  -  PL-", "top paths:   -", "top targets: -"}},
        {"rules: top entries",
         mso::format_rules,
         R"({"rules":[{"top_paths":[{"value":"/a","count":2},{}],"top_targets":"x"}]})",
         {"/a (2), - (-)", "top targets: -"}},
        {"rules: from history",
         mso::format_rules,
         R"({"from":"history","rules":[{"vhost":"a","id":"942100","hits":3,)"
         R"("last_seen":"2025-11-21T15:40:00Z"}]})",
         {"a  942100  -\n  hits 3, last seen 2025-11-21T15:40:00Z\n"}},
        {"rules: from history, with a rule",
         mso::format_rules,
         R"({"from":"history","rules":[{"vhost":"a","id":"942100","hits":3,)"
         R"("top_paths":[{"value":"/a","count":3}],"top_targets":[{"value":"ARGS:q","count":4}],)"
         R"("top_pairs":[{"path":"/a","target":"ARGS:q","count":4},{}],)"
         R"("top_since":"2025-11-21T15:00:00Z"}]})",
         {"  top paths:   /a (3)\n", "  top targets: ARGS:q (4)\n",
          "  top pairs:   /a \u00d7 ARGS:q (4), - \u00d7 - (-)\n",
          "(lists of the hits since 2025-11-21T15:00:00Z)"}},
        {"top: nothing", mso::format_top, R"({"top":null})", {"nothing counted yet\n"}},
        {"top: from history",
         mso::format_top,
         R"({"from":"history","top":[{"value":"a","count":1,"error":0}],"error_bound":0})",
         {"(exact counts of the stored events, from history)\n"}},
        {"top: no error bound",
         mso::format_top,
         R"({"top":[{"value":"a","count":1}]})",
         {"COUNT minus ±)\n"}},
        {"top: error bound",
         mso::format_top,
         R"({"top":[{"value":"a","count":1}],"error_bound":7})",
         {"± is at most 7)\n"}},
        {"top: error bound of another type",
         mso::format_top,
         R"({"top":[{"value":"a"}],"error_bound":"7"})",
         {"COUNT minus ±)\n"}},
        {"timeseries: nothing", mso::format_timeseries, R"({})", {"no data\n"}},
        {"timeseries: no points",
         mso::format_timeseries,
         R"({"series":[{"vhost":"a","resolution":"minute","points":{}}]})",
         {"a (per minute)\n", "  TIME"}},
        {"health: not an object", mso::format_health, R"([1])", {"unexpected answer\n"}},
        {"health: sizes in MiB",
         mso::format_health,
         R"({"ok":true,"rss_bytes":3145728,"uptime_s":5,"malformed_by_reason":{"not_json":2}})",
         {"rss_bytes", "3.0 MiB", "uptime_s", "  not_json"}},
        {"health: nested objects indented, sizes in MiB at any depth",
         mso::format_health,
         R"({"history":{"written":7,"lost":{"queue_full":2},"db_bytes":1048576}})",
         {"history\n", "  written", "  lost\n", "    queue_full", "  db_bytes", "1.0 MiB"}},
        {"health: hostile key names escaped",
         mso::format_health,
         R"({"import":{"\u001b[2Jx":1}})",
         {"  \\x1b[2Jx"}},
    };
    for (const PartialCase& c : cases) {
        SCOPED_TRACE(c.name);
        const json answer = json::parse(c.answer);
        const std::string text = c.format(answer);
        EXPECT_EQ(unsafe(text), "");
        for (const std::string& part : c.shown) {
            EXPECT_NE(text.find(part), std::string::npos) << "missing: " << part << "\nin:\n"
                                                          << text;
        }
    }
}

TEST(Formatters, HealthLeavesOutOk)
{
    const std::string text = mso::format_health(json::parse(R"({"ok":true,"datagrams":3})"));
    EXPECT_EQ(text, "datagrams  3\n");
}

TEST(Formatters, EventHeaderAndLineAlign)
{
    const std::string header = mso::format_event_header();
    const std::string line = mso::format_event_line(json::parse(
        R"({"time":"2025-11-21T15:40:00Z","vhost":"shop","client":"10.0.0.1","method":"GET",)"
        R"("path":"/","status":403,"intercepted":true,"rules":[{"id":"942100"}]})"));
    EXPECT_EQ(header.find("RULES"), line.find("942100"));
    EXPECT_EQ(header.find("VHOST"), line.find("shop"));
}

} // namespace
