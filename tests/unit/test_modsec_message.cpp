// Table-driven tests of the ModSecurity message parser on real error-log lines
// captured from Apache 2.4 + mod_security2 2.9.7 with CRS 3.3.4 and 4.28
// (tests/data/README.md), plus hand-made attacker-shaped messages.
#include "modsec_message.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

namespace mso {
namespace {

std::vector<std::string> read_lines(const std::string& name)
{
    std::ifstream in(std::string(MSO_TEST_DATA_DIR) + "/" + name);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

// What the error_log hook receives: the message part of the log line (from ModSecurity's
// "[client ...]" on), after which capture undoes httpd's escaping.
std::string hook_text(const std::string& log_line)
{
    const std::size_t start = log_line.find("[client 127.0.0.1] ModSecurity: ");
    std::string text = log_line.substr(start == std::string::npos ? 0 : start);
    text.resize(apache_log_unescape(text.data(), text.size()));
    return text;
}

// The first captured line that contains every one of `needles`.
std::string find_line(const std::string& file, std::vector<std::string> needles)
{
    for (const std::string& line : read_lines(file)) {
        bool all = true;
        for (const std::string& n : needles)
            all = all && line.find(n) != std::string::npos;
        if (all)
            return hook_text(line);
    }
    ADD_FAILURE() << "no line in " << file << " contains " << needles.front();
    return {};
}

struct Case {
    const char* file;
    std::vector<std::string> select;
    const char* id;
    const char* severity;
    bool intercepted;
    int phase;
    const char* target;
    int paranoia_level;
    bool truncated;
    const char* msg_prefix;
};

class RealMessages : public ::testing::TestWithParam<Case> {};

TEST_P(RealMessages, Parse)
{
    const Case& c = GetParam();
    const std::string text = find_line(c.file, c.select);
    MessageView m;
    ASSERT_TRUE(parse_modsec_message(text, m));
    EXPECT_TRUE(m.is_alert);
    EXPECT_EQ(m.id, c.id);
    EXPECT_EQ(m.severity, c.severity);
    EXPECT_EQ(m.intercepted, c.intercepted);
    EXPECT_EQ(m.phase, c.phase);
    EXPECT_EQ(m.target, c.target);
    EXPECT_EQ(m.paranoia_level, c.paranoia_level);
    EXPECT_EQ(m.truncated, c.truncated);
    EXPECT_EQ(m.msg.substr(0, std::string_view(c.msg_prefix).size()), c.msg_prefix);
    EXPECT_FALSE(m.unique_id.empty());
    EXPECT_FALSE(m.hostname.empty());
}

const Case k_cases[] = {
    // CRS 4.28, DetectionOnly: libinjection puts the variable in [data].
    {"crs4_error_log.txt",
     {"detect.test", "[id \"942100\"]"},
     "942100",
     "CRITICAL",
     false,
     0,
     "ARGS:id",
     1,
     false,
     "SQL Injection Attack Detected via libinjection"},
    {"crs4_error_log.txt",
     {"block.test", "Access denied with code 403 (phase 2)", "949110"},
     "949110",
     "",
     true,
     2,
     "TX:blocking_inbound_anomaly_score",
     0,
     false,
     "Inbound Anomaly Score Exceeded (Total Score: "},
    {"crs4_error_log.txt",
     {"detect.test", "[id \"949110\"]"},
     "949110",
     "",
     false,
     0,
     "TX:blocking_inbound_anomaly_score",
     0,
     false,
     "Inbound Anomaly Score Exceeded"},
    {"crs4_error_log.txt",
     {"[id \"980170\"]"},
     "980170",
     "",
     false,
     0,
     "",
     0,
     false,
     "Anomaly Scores: (Inbound Scores: blocking="},
    {"crs4_error_log.txt",
     {"[id \"920450\"]"},
     "920450",
     "CRITICAL",
     false,
     0,
     "TX:header_name_920450_expect",
     1,
     false,
     "HTTP header is restricted by policy"},
    {"crs4_error_log.txt",
     {"[id \"913100\"]"},
     "913100",
     "CRITICAL",
     false,
     0,
     "REQUEST_HEADERS:User-Agent",
     1,
     false,
     "Found User-Agent associated with security scanner"},
    {"crs4_error_log.txt",
     {"[id \"941100\"]", "ARGS:q"},
     "941100",
     "CRITICAL",
     false,
     0,
     "ARGS:q",
     1,
     false,
     "XSS Attack Detected via libinjection"},
    // CRS 3.3.4.
    {"crs3_error_log.txt",
     {"[id \"942100\"]"},
     "942100",
     "CRITICAL",
     false,
     0,
     "ARGS:id",
     1,
     false,
     "SQL Injection Attack Detected via libinjection"},
    {"crs3_error_log.txt",
     {"Access denied with code 403 (phase 2)", "949110"},
     "949110",
     "CRITICAL",
     true,
     2,
     "TX:anomaly_score",
     0,
     false,
     "Inbound Anomaly Score Exceeded"},
    {"crs3_error_log.txt",
     {"[id \"980130\"]"},
     "980130",
     "",
     false,
     0,
     "TX:inbound_anomaly_score",
     0,
     false,
     "Inbound Anomaly Score Exceeded (Total Inbound Score: "},
    {"crs3_error_log.txt",
     {"[id \"930120\"]"},
     "930120",
     "CRITICAL",
     false,
     0,
     "ARGS:file",
     1,
     false,
     "OS File Access Attempt"},
    {"crs3_error_log.txt",
     {"[id \"920450\"]"},
     "920450",
     "CRITICAL",
     false,
     0,
     "TX:header_name_proxy",
     1,
     false,
     "HTTP header is restricted by policy"},
};

INSTANTIATE_TEST_SUITE_P(Captured, RealMessages, ::testing::ValuesIn(k_cases));

// An 1,100-character argument name fills ModSecurity's 1024-byte buffer: the message
// keeps no [id] but must still be recognised as a truncated alert.
TEST(TruncatedMessages, ArgumentNameOverflowKeepsAlertWithoutId)
{
    for (const char* file : {"crs3_error_log.txt", "crs4_error_log.txt"}) {
        SCOPED_TRACE(file);
        std::size_t seen = 0;
        for (const std::string& line : read_lines(file)) {
            if (line.find("at ARGS_NAMES:") == std::string::npos ||
                line.find("[id \"") != std::string::npos)
                continue;
            ++seen;
            MessageView m;
            ASSERT_TRUE(parse_modsec_message(hook_text(line), m));
            EXPECT_TRUE(m.is_alert);
            EXPECT_TRUE(m.truncated);
            EXPECT_EQ(m.id, "");
            EXPECT_FALSE(m.unique_id.empty());
        }
        EXPECT_GT(seen, 0U);
    }
}

TEST(TruncatedMessages, EveryCapturedLineWithIdIsComplete)
{
    for (const char* file : {"crs3_error_log.txt", "crs4_error_log.txt"}) {
        for (const std::string& line : read_lines(file)) {
            MessageView m;
            ASSERT_TRUE(parse_modsec_message(hook_text(line), m));
            EXPECT_TRUE(m.is_alert) << line;
            if (!m.id.empty()) {
                EXPECT_FALSE(m.truncated) << line;
                EXPECT_FALSE(m.msg.empty()) << line;
            }
        }
    }
}

TEST(Forgery, IdInHeadIsIgnored)
{
    // ModSecurity does not escape variable names: an argument named
    // x" [file "f"] [id "1"] [msg "fake"] lands in the head verbatim.
    const std::string text =
        "[client 10.0.0.1] ModSecurity: Warning. Pattern match \"a\" at "
        "ARGS:x\" [file \"f\"] [id \"1\"] [msg \"fake\"]. [file \"/r.conf\"] [line \"7\"] "
        "[id \"942100\"] [msg \"real\"] [data \"x\\\"] [id \\\"2\"] [severity \"CRITICAL\"] "
        "[hostname \"h\"] [uri \"/\"] [unique_id \"u\"]";
    MessageView m;
    ASSERT_TRUE(parse_modsec_message(text, m));
    EXPECT_EQ(m.id, "942100");
    EXPECT_EQ(m.msg, "real");
    EXPECT_EQ(m.data, "x\\\"] [id \\\"2");
    EXPECT_EQ(m.severity, "CRITICAL");
    EXPECT_EQ(m.unique_id, "u");
}

TEST(Forgery, HostnameInDataDoesNotMoveTrailer)
{
    const std::string text =
        "[client 10.0.0.1] ModSecurity: Warning. x. [file \"/r.conf\"] [id \"1\"] "
        "[data \"a\\\"] [hostname \\\"evil\"] [hostname \"real.test\"] [uri \"/p\"] "
        "[unique_id \"u\"]";
    MessageView m;
    ASSERT_TRUE(parse_modsec_message(text, m));
    EXPECT_EQ(m.hostname, "real.test");
    EXPECT_EQ(m.data, "a\\\"] [hostname \\\"evil");
}

struct HeadCase {
    const char* head;
    bool alert;
    bool intercepted;
    int phase;
    int status;
    const char* target;
};

class Heads : public ::testing::TestWithParam<HeadCase> {};

TEST_P(Heads, Classify)
{
    const HeadCase& c = GetParam();
    const std::string text = std::string("[client 1.2.3.4] ModSecurity: ") + c.head +
                             " [file \"/f\"] [line \"1\"] [id \"5\"] [hostname \"h\"] "
                             "[uri \"/\"] [unique_id \"u\"]";
    MessageView m;
    ASSERT_TRUE(parse_modsec_message(text, m));
    EXPECT_EQ(m.is_alert, c.alert);
    EXPECT_EQ(m.intercepted, c.intercepted);
    EXPECT_EQ(m.phase, c.phase);
    EXPECT_EQ(m.status, c.status);
    EXPECT_EQ(m.target, c.target);
}

INSTANTIATE_TEST_SUITE_P(
    Forms, Heads,
    ::testing::Values(
        HeadCase{"Warning. Matched phrase \"nikto\" at REQUEST_HEADERS:User-Agent.", true, false, 0,
                 0, "REQUEST_HEADERS:User-Agent"},
        HeadCase{"Access denied with code 403 (phase 2). Operator GE matched 5 at "
                 "TX:anomaly_score.",
                 true, true, 2, 403, "TX:anomaly_score"},
        HeadCase{"Access denied with connection close (phase 1). Unconditional match in "
                 "SecAction.",
                 true, true, 1, 0, ""},
        HeadCase{"Access allowed (phase 1). Unconditional match in SecAction.", true, false, 1, 0,
                 ""},
        HeadCase{"Warning. Match of \"eq 0\" against \"REQUEST_HEADERS:Content-Length\" "
                 "required.",
                 true, false, 0, 0, "REQUEST_HEADERS:Content-Length"},
        HeadCase{"Warning. Pattern match \"a at b\\\" at c\" at ARGS:q.", true, false, 0, 0,
                 "ARGS:q"},
        // ` against \"` inside the quoted operand is escaped: the next one names the target.
        HeadCase{"Warning. Match of \"p against \\\"x\" against \"ARGS:b\" required.", true, false,
                 0, 0, "ARGS:b"},
        HeadCase{"Warning. against \"ARGS:c\" required.", true, false, 0, 0, "ARGS:c"},
        // The first quote ` against "` can end is the head's tenth byte; one before it
        // cannot end it (and must not be looked behind).
        HeadCase{" against \"ARGS:d\" required.", true, false, 0, 0, "ARGS:d"},
        HeadCase{"\"x\" against \"ARGS:e\" required.", true, false, 0, 0, "ARGS:e"}));

// Item keys are at most 16 bytes: a longer one ends the metadata (what follows is not
// trusted to be items), a 16-byte one is read and ignored.
TEST(Items, KeysOfSixteenBytesAreReadLongerOnesEndTheMetadata)
{
    const auto parse = [](const std::string& key) {
        MessageView m;
        const std::string text = "ModSecurity: Warning. x at ARGS:a. [file \"/f\"] [" + key +
                                 " \"v\"] [id \"7\"] [hostname \"h\"] [uri \"/\"] "
                                 "[unique_id \"u\"]";
        EXPECT_TRUE(parse_modsec_message(text, m));
        return std::string(m.id);
    };
    EXPECT_EQ(parse("abcdefghijklmnop"), "7");
    EXPECT_EQ(parse("abcdefghijklmnopq"), "");
    EXPECT_EQ(parse(""), "7");
}

TEST(NotModSecurity, OtherModulesMessagesAreRejected)
{
    MessageView m;
    EXPECT_FALSE(parse_modsec_message("AH01630: client denied by server configuration", m));
    EXPECT_FALSE(parse_modsec_message("", m));
}

// ModSecurity's own messages about a request (body parsers, limits) have no [id] and no
// alert head, but ModSecurity records them in the audit log: they are findings.
TEST(EngineMessages, AreFindingsWithoutARule)
{
    const char* texts[] = {
        "[client 127.0.0.1] ModSecurity: JSON parser error: parse error: premature EOF\n "
        "[hostname \"h\"] [uri \"/\"] [unique_id \"u\"]",
        "[client 127.0.0.1] ModSecurity: Request body no files data length is larger than the "
        "configured limit (131072). [hostname \"h\"] [uri \"/\"] [unique_id \"u\"]",
    };
    for (const char* text : texts) {
        MessageView m;
        ASSERT_TRUE(parse_modsec_message(text, m));
        EXPECT_TRUE(m.is_alert) << text;
        EXPECT_TRUE(m.engine) << text;
        EXPECT_FALSE(m.truncated) << text;
        EXPECT_EQ(m.id, "");
        EXPECT_EQ(m.unique_id, "u");
    }
}

TEST(EngineMessages, RuleAlertsAndTruncatedOnesAreNotEngineMessages)
{
    MessageView m;
    ASSERT_TRUE(parse_modsec_message(
        "ModSecurity: Warning. x. [file \"/f\"] [id \"1\"] [hostname \"h\"] [uri \"/\"] "
        "[unique_id \"u\"]",
        m));
    EXPECT_FALSE(m.engine);
    ASSERT_TRUE(parse_modsec_message("ModSecurity: Warning. x. [file \"/f\"] [id \"12\"] [ms", m));
    EXPECT_TRUE(m.truncated);
    EXPECT_FALSE(m.engine);
}

TEST(Tags, DeduplicatedAndBounded)
{
    std::string text = "ModSecurity: Warning. x. [file \"/f\"] [id \"1\"]";
    for (int i = 0; i < 20; ++i)
        text += " [tag \"t" + std::to_string(i) + "\"] [tag \"t" + std::to_string(i) + "\"]";
    text += " [tag \"paranoia-level/3\"] [hostname \"h\"] [uri \"/\"] [unique_id \"u\"]";
    MessageView m;
    ASSERT_TRUE(parse_modsec_message(text, m));
    EXPECT_EQ(m.tag_count, k_max_tags);
    EXPECT_EQ(m.tags_dropped, 9U); // t16..t19 twice each, then paranoia-level/3
    EXPECT_EQ(m.tags[1], "t1");
    EXPECT_EQ(m.paranoia_level, 3); // read even from a tag beyond the bound
}

TEST(Truncation, MissingTrailerMeansApacheCutTheLine)
{
    MessageView m;
    ASSERT_TRUE(parse_modsec_message("ModSecurity: Warning. x. [file \"/f\"] [id \"12\"] [ms", m));
    EXPECT_TRUE(m.truncated);
    EXPECT_EQ(m.id, "12");
}

TEST(Truncation, FullBufferIsTruncated)
{
    std::string text = "ModSecurity: Warning. Pattern match \"" + std::string(1100, 'a');
    text.resize(std::string("ModSecurity: ").size() + k_modsec_message_limit - 1);
    text += " [hostname \"h\"] [uri \"/\"] [unique_id \"u\"]";
    MessageView m;
    ASSERT_TRUE(parse_modsec_message(text, m));
    EXPECT_TRUE(m.truncated);
    EXPECT_TRUE(m.is_alert);
    EXPECT_EQ(m.id, "");
}

struct UnescapeCase {
    const char* in;
    std::string out;
};

TEST(Unescape, ApacheLayer)
{
    const UnescapeCase cases[] = {
        {"a\\\\b", "a\\b"},
        {"\\x1b[31m", "\x1b[31m"},
        {"\\n\\t", "\n\t"},
        {"q\\\"", "q\\\""},
        {"end\\", "end\\"},
        {"\\xZZ", "\\xZZ"},
        // Runs between escapes, escapes back to back, a cut \x at the end.
        {"run one\\nrun two\\\\three", "run one\nrun two\\three"},
        {"\\t\\t\\x41\\x4", "\t\tA\\x4"},
        {"\\x4", "\\x4"},
        {"\\q", "\\q"},
    };
    for (const auto& c : cases) {
        std::string s = c.in;
        s.resize(apache_log_unescape(s.data(), s.size()));
        EXPECT_EQ(s, c.out) << c.in;
    }
}

TEST(Unescape, ModSecurityLayer)
{
    const UnescapeCase cases[] = {
        {"1' OR 1=1--", "1' OR 1=1--"},
        {"a\\\"b", "a\"b"},
        {"back\\\\slash", "back\\slash"},
        {"\\x00\\xff", std::string("\x00\xff", 2)},
        {"tail\\", "tail\\"},
        {"\\n\\r\\t\\v\\b", "\n\r\t\v\b"},
    };
    for (const auto& c : cases) {
        char out[64];
        const std::size_t n = modsec_unescape(c.in, out, sizeof out);
        EXPECT_EQ(std::string(out, n), c.out) << c.in;
    }
    char small[3];
    EXPECT_EQ(modsec_unescape("abcdef", small, sizeof small), 3U);
    EXPECT_EQ(std::string(small, modsec_unescape("a\\\"bcd", small, sizeof small)), "a\"b");
}

// The scanner finds quotes with memchr() and decides whether each is escaped by the
// backslashes before it: an even run leaves it a closing quote, an odd run escapes it.
TEST(Escapes, BackslashRunsBeforeAQuote)
{
    for (int run = 0; run <= 5; ++run) {
        const std::string slashes(static_cast<std::size_t>(run), '\\');
        const std::string text = "[client 10.0.0.1] ModSecurity: Warning. Match \"v" + slashes +
                                 "\" at ARGS:fake.\" at ARGS:real. [file \"/r.conf\"] [id \"1\"] "
                                 "[data \"d" +
                                 slashes +
                                 "\"] [severity \\\"X\\\"]\"] [severity \"CRITICAL\"] "
                                 "[hostname \"h\"] [uri \"/\"] [unique_id \"u\"]";
        MessageView m;
        ASSERT_TRUE(parse_modsec_message(text, m)) << run;
        if (run % 2 == 0) {
            // The quote after the run ends the value: what follows is not an item.
            EXPECT_EQ(m.data, "d" + slashes) << run;
            EXPECT_EQ(m.severity, "") << run;
        } else {
            EXPECT_EQ(m.data, "d" + slashes + "\"] [severity \\\"X\\\"]") << run;
            EXPECT_EQ(m.severity, "CRITICAL") << run;
        }
        // In the head, only the last unescaped quote counts; with an odd run it is the
        // one after "fake", with an even run too (the quote after the run opens again).
        EXPECT_EQ(m.target, "ARGS:real") << run;
        EXPECT_EQ(m.unique_id, "u") << run;
    }
}

// The trailer and the metadata are found from the end, one '[' at a time.
TEST(Escapes, ManyBracketsBeforeTheTrailer)
{
    std::string data;
    for (int i = 0; i < 50; ++i)
        data += "[[ [hostname [file [id ";
    const std::string text = "[client 10.0.0.1] ModSecurity: Warning. x. [file \"/r.conf\"] "
                             "[id \"7\"] [data \"" +
                             data + "\"] [hostname \"real.test\"] [uri \"/p\"] [unique_id \"u\"]";
    MessageView m;
    ASSERT_TRUE(parse_modsec_message(text, m));
    EXPECT_EQ(m.id, "7");
    EXPECT_EQ(m.data, data);
    EXPECT_EQ(m.hostname, "real.test");
    EXPECT_EQ(m.file, "/r.conf");
}

// Quotes and brackets are looked for sixteen bytes at a time: values of every length, at
// every offset from the message's start, with a bracket and an escaped quote in them,
// are read whole, and so is a message shorter than sixteen bytes.
TEST(Escapes, ValuesOfEveryLengthAndOffsetAreReadWhole)
{
    for (std::size_t pad = 0; pad < 17; ++pad) {
        for (std::size_t length = 0; length <= 40; ++length) {
            std::string value(length, 'v');
            if (length > 2)
                value[length / 2] = '[';
            if (length > 4) {
                value[length - 2] = '\\';
                value[length - 1] = '"';
            }
            const std::string text = "ModSecurity: Warning. " + std::string(pad, 'x') +
                                     " at ARGS:a. [file \"/f\"] [id \"7\"] [tag \"" + value +
                                     "\"] [data \"" + value +
                                     "\"] [hostname \"h\"] [uri \"/\"] [unique_id \"u\"]";
            MessageView m;
            ASSERT_TRUE(parse_modsec_message(text, m));
            EXPECT_EQ(m.data, value) << pad << " " << length;
            ASSERT_EQ(m.tag_count, 1U) << pad << " " << length;
            EXPECT_EQ(m.tags[0], value) << pad << " " << length;
            EXPECT_EQ(m.id, "7") << pad << " " << length;
            EXPECT_EQ(m.file, "/f") << pad << " " << length;
            EXPECT_EQ(m.hostname, "h") << pad << " " << length;
            EXPECT_EQ(m.unique_id, "u") << pad << " " << length;
        }
    }
    MessageView m;
    ASSERT_TRUE(parse_modsec_message("ModSecurity: x [", m));
    EXPECT_EQ(m.head, "x [");
    EXPECT_TRUE(m.truncated);
    // A bracket first is no item's: an item begins with the space before it.
    ASSERT_TRUE(parse_modsec_message("ModSecurity: [hostname \"x\"]xx", m));
    EXPECT_EQ(m.head, "[hostname \"x\"]xx");
    EXPECT_EQ(m.hostname, "");
    EXPECT_TRUE(m.truncated);
}

} // namespace
} // namespace mso
