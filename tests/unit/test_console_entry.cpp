// The console's per-upload decisions: Basic credentials, X-Content-Hash, the entry's
// parse into a StoredEvent (captured real entries, tests/data/audit) and the answers.
#include "daemon/console_entry.h"
#include "protocol/import_line.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace mso {
namespace {

std::string read_file(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// The first entry file of the captured v2 Concurrent storage directory (Native).
std::string native_entry()
{
    const std::filesystem::path dir =
        std::filesystem::path(MSO_TEST_DATA_DIR) / "audit" / "v2_native_concurrent" / "storage";
    for (const auto& f : std::filesystem::recursive_directory_iterator(dir)) {
        if (f.is_regular_file()) {
            return read_file(f.path());
        }
    }
    return {};
}

// The first line of the captured v3 JSON log.
std::string v3_json_entry()
{
    const std::string text =
        read_file(std::filesystem::path(MSO_TEST_DATA_DIR) / "audit" / "v3_json.log");
    return text.substr(0, text.find('\n'));
}

TEST(ConsoleEntry, BasicCredentials)
{
    struct Case {
        std::string header;
        std::optional<std::pair<std::string, std::string>> expected;
    };
    const std::vector<Case> cases = {
        {"Basic d2ViMTpwdzE=", std::pair<std::string, std::string>{"web1", "pw1"}},
        {"basic d2ViMTpwdzE=", std::pair<std::string, std::string>{"web1", "pw1"}},
        // The password may hold ':' (the user cannot): "web1:a:b".
        {"Basic d2ViMTphOmI=", std::pair<std::string, std::string>{"web1", "a:b"}},
        // "web1:" (empty password) parses; the check refuses it.
        {"Basic d2ViMTo=", std::pair<std::string, std::string>{"web1", ""}},
        {"", std::nullopt},
        {"Bearer d2ViMTpwdzE=", std::nullopt},
        {"Basic", std::nullopt},
        {"Basic ", std::nullopt},
        {"Basic d2ViMQ==", std::nullopt},         // "web1": no colon
        {"Basic OnB3", std::nullopt},             // ":pw": no user
        {"Basic d2ViMTpwdzE", std::nullopt},      // length not a multiple of 4
        {"Basic d2V!MTpwdzE=", std::nullopt},     // not base64
        {"Basic d2ViMTpwdzE=d2Vi", std::nullopt}, // data after padding
        {"Basic " + std::string(5000, 'A'), std::nullopt},
    };
    for (const Case& c : cases) {
        const auto parsed = parse_basic_auth(c.header);
        if (!c.expected) {
            EXPECT_FALSE(parsed) << c.header;
            continue;
        }
        ASSERT_TRUE(parsed) << c.header;
        EXPECT_EQ(parsed->user, c.expected->first) << c.header;
        EXPECT_EQ(parsed->password, c.expected->second) << c.header;
    }
}

TEST(ConsoleEntry, ContentHashFirstTokenOnly)
{
    // md5("hello") = 5d41402abc4b2a76b9719d911017c592
    struct Case {
        std::string header;
        HashCheck expected;
    };
    const std::vector<Case> cases = {
        {"", HashCheck::absent},
        {"   ", HashCheck::absent},
        {"md5:5d41402abc4b2a76b9719d911017c592", HashCheck::match},
        {"md5:5D41402ABC4B2A76B9719D911017C592", HashCheck::match},
        {"md5:5d41402abc4b2a76b9719d911017c592 ", HashCheck::match},  // mlogc's trailing space
        {"md5:5d41402abc4b2a76b9719d911017c592 L", HashCheck::match}, // and its cut marker
        {"md5:00000000000000000000000000000000", HashCheck::mismatch},
        {"md5:5d41402abc4b2a76b9719d911017c59", HashCheck::malformed},
        {"sha1:5d41402abc4b2a76b9719d911017c592", HashCheck::malformed},
        {"md5:5d41402abc4b2a76b9719d911017c59z", HashCheck::malformed},
    };
    for (const Case& c : cases) {
        EXPECT_EQ(check_content_hash(c.header, "hello"), c.expected) << c.header;
    }
}

TEST(ConsoleEntry, AnswersAsMlogcReadsThem)
{
    struct Case {
        ConsoleRefusal refusal;
        int status;
    };
    // 409 only for what can never be accepted; whatever may succeed later is retried.
    const std::vector<Case> cases = {
        {ConsoleRefusal::unauthorized, 401},  {ConsoleRefusal::forbidden, 403},
        {ConsoleRefusal::not_found, 404},     {ConsoleRefusal::too_large, 409},
        {ConsoleRefusal::malformed, 409},     {ConsoleRefusal::hash_mismatch, 409},
        {ConsoleRefusal::rate_limited, 503},  {ConsoleRefusal::store_busy, 503},
        {ConsoleRefusal::store_error, 503},   {ConsoleRefusal::no_history, 503},
        {ConsoleRefusal::bad_request, 400},   {ConsoleRefusal::too_many_connections, 503},
        {ConsoleRefusal::login_blocked, 429}, {ConsoleRefusal::too_old, 409},
    };
    for (const Case& c : cases) {
        EXPECT_EQ(answer_for(c.refusal, "").status, c.status) << refusal_name(c.refusal);
    }
    EXPECT_EQ(answer_for(ConsoleRefusal::malformed, "bad \"x\"\r\n").reason,
              "entry%20not%20readable%3A%20bad%20%22x%22%0D%0A");
    EXPECT_EQ(url_encode("a-b_c.d~e f/%"), "a-b_c.d~e%20f%2F%25");
}

TEST(ConsoleEntry, DecodesNativeAndJsonEntries)
{
    JsonEntryParser json(4 * 1024 * 1024);
    std::string scratch;
    const std::string native = native_entry();
    ASSERT_FALSE(native.empty());
    auto n = decode_upload(native, "sensor:web1", "web1", k_import_data_max, json, scratch);
    ASSERT_TRUE(n) << n.error();
    EXPECT_EQ(n->source, "sensor:web1");
    EXPECT_FALSE(n->event.unique_id.empty());
    EXPECT_FALSE(n->event.findings.empty());
    EXPECT_NE(n->event.vhost, "web1") << "the entry's Host header names the vhost";

    const std::string v3 = v3_json_entry();
    auto j = decode_upload(v3 + "\n", "sensor:nginx1", "nginx1", k_import_data_max, json, scratch);
    ASSERT_TRUE(j) << j.error();
    EXPECT_EQ(j->source, "sensor:nginx1");
    EXPECT_FALSE(j->event.unique_id.empty());

    // The same body twice gives the same event (what makes a second upload a duplicate).
    auto again = decode_upload(native, "sensor:web1", "web1", k_import_data_max, json, scratch);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->event, n->event);
}

// --console-matched-data: each finding keeps at most that many bytes of its matched data
// (a cut is marked), none with 0 (off, unmarked); the rest of the event is unchanged.
TEST(ConsoleEntry, KeepsAsMuchMatchedDataAsConfigured)
{
    JsonEntryParser json(4 * 1024 * 1024);
    std::string scratch;
    const std::string native = native_entry();
    ASSERT_FALSE(native.empty());
    auto full = decode_upload(native, "sensor:web1", "web1", k_import_data_max, json, scratch);
    ASSERT_TRUE(full) << full.error();
    constexpr std::size_t k_cut = 12;
    std::size_t longer = 0;
    for (const Finding& f : full->event.findings) {
        longer += f.data.size() > k_cut ? 1U : 0U;
    }
    ASSERT_GT(longer, 0U) << "the captured entry has matched data longer than the cut";

    auto cut = decode_upload(native, "sensor:web1", "web1", k_cut, json, scratch);
    ASSERT_TRUE(cut) << cut.error();
    ASSERT_EQ(cut->event.findings.size(), full->event.findings.size());
    for (std::size_t i = 0; i < full->event.findings.size(); ++i) {
        const Finding& whole = full->event.findings[i];
        const Finding& f = cut->event.findings[i];
        EXPECT_LE(f.data.size(), k_cut);
        EXPECT_TRUE(whole.data.starts_with(f.data)) << f.data;
        EXPECT_EQ(f.data_truncated, whole.data_truncated || whole.data.size() > k_cut)
            << whole.data;
        Finding same_but_data = f;
        same_but_data.data = whole.data;
        same_but_data.data_truncated = whole.data_truncated;
        EXPECT_EQ(same_but_data, whole);
    }
    RequestEvent without_data = cut->event;
    for (std::size_t i = 0; i < without_data.findings.size(); ++i) {
        without_data.findings[i] = full->event.findings[i];
    }
    EXPECT_EQ(without_data, full->event);

    auto off = decode_upload(native, "sensor:web1", "web1", 0, json, scratch);
    ASSERT_TRUE(off) << off.error();
    for (const Finding& f : off->event.findings) {
        EXPECT_EQ(f.data, "");
        EXPECT_FALSE(f.data_truncated);
    }
}

TEST(ConsoleEntry, RefusesWhatIsNoEntry)
{
    JsonEntryParser json(1024 * 1024);
    std::string scratch;
    const std::string native = native_entry();
    const std::vector<std::string> bodies = {
        "",
        "\n\n",
        "garbage",
        "{not json",
        "{\"transaction\":42}",
        "--abcdef12-A--\n",
        native.substr(0, native.size() / 3), // cut before its Z part
        std::string("\0\0\0", 3),
    };
    for (const std::string& body : bodies) {
        const auto decoded = decode_upload(body, "sensor:x", "x", k_import_data_max, json, scratch);
        EXPECT_FALSE(decoded) << body.substr(0, 40);
        if (!decoded) {
            EXPECT_FALSE(decoded.error().empty());
        }
    }
}

} // namespace
} // namespace mso
