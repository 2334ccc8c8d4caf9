// store/stored_event.h: the content hash, engine mode names and the findings and scores
// blobs.
#include "store/stored_event.h"

#include "store_test_events.h"

#include <gtest/gtest.h>

#include <map>

namespace mso {
namespace {

// Interns into a map, as the strings table would.
class MapIds final : public StringIds {
public:
    std::optional<std::int64_t> id_of(std::string_view text) override
    {
        auto [it, added] = m_ids.emplace(std::string(text), m_ids.size() + 1);
        if (added) {
            m_texts[it->second] = it->first;
        }
        return it->second;
    }
    std::optional<std::string> text_of(std::int64_t id) override
    {
        const auto it = m_texts.find(id);
        return it == m_texts.end() ? std::nullopt : std::optional<std::string>(it->second);
    }
    std::map<std::string, std::int64_t> m_ids;
    std::map<std::int64_t, std::string> m_texts;
};

TEST(StoredEvent, ContentHashCoversEveryFieldButTheSource)
{
    const StoredEvent base = test::full_event();
    const std::uint64_t h = content_hash(base.event);
    StoredEvent other = base;
    other.source = "import:old.log";
    other.engine_mode = EngineMode::on;
    other.row_id = 7;
    EXPECT_EQ(content_hash(other.event), h);

    using Change = void (*)(RequestEvent&);
    const std::pair<const char*, Change> changes[] = {
        {"time", [](RequestEvent& e) { e.time_us += 1; }},
        {"vhost", [](RequestEvent& e) { e.vhost += "x"; }},
        {"port", [](RequestEvent& e) { e.port = 80; }},
        {"unique id", [](RequestEvent& e) { e.unique_id += "x"; }},
        {"client", [](RequestEvent& e) { e.client = "::1"; }},
        {"method", [](RequestEvent& e) { e.method = "GET"; }},
        {"path", [](RequestEvent& e) { e.path += "/"; }},
        {"query", [](RequestEvent& e) { e.query.clear(); }},
        {"status", [](RequestEvent& e) { e.status = 403; }},
        {"protocol", [](RequestEvent& e) { e.protocol = "HTTP/1.1"; }},
        {"user agent", [](RequestEvent& e) { e.user_agent = "curl"; }},
        {"intercepted", [](RequestEvent& e) { e.intercepted = true; }},
        {"phase", [](RequestEvent& e) { e.phase = 1; }},
        {"no scores", [](RequestEvent& e) { e.scores.reset(); }},
        {"a PL score", [](RequestEvent& e) { e.scores->outbound_pl[3] = 0; }},
        {"a threshold", [](RequestEvent& e) { e.scores->inbound_threshold = 10; }},
        {"findings dropped", [](RequestEvent& e) { e.findings_dropped = 0; }},
        {"a finding less", [](RequestEvent& e) { e.findings.pop_back(); }},
        {"finding order",
         [](RequestEvent& e) { std::swap(e.findings.front(), e.findings.back()); }},
        {"a tag",
         [](RequestEvent& e) {
             e.findings[0].tags = {"application-multi", "attack-sqli", "paranoia-level/1"};
         }},
        {"tags split differently",
         [](RequestEvent& e) {
             e.findings[0].tags = {"application-multiattack-sqli", "paranoia-level/1",
                                   "capec/1000/152/248/66"};
         }},
        {"data", [](RequestEvent& e) { e.findings[0].data.back() = '!'; }},
        {"data truncated flag", [](RequestEvent& e) { e.findings[0].data_truncated = false; }},
        {"paranoia level", [](RequestEvent& e) { e.findings[1].paranoia_level = 3; }},
        {"msg moved to severity",
         [](RequestEvent& e) {
             e.findings[2].severity = e.findings[2].msg;
             e.findings[2].msg.clear();
         }},
    };
    for (const auto& [name, change] : changes) {
        StoredEvent changed = base;
        change(changed.event);
        EXPECT_NE(content_hash(changed.event), h) << name;
    }
}

// The hash is stored in every row and compared at insert (duplicates): a new way of
// computing it must give the same values as the one that wrote the existing files
// (these two were computed by the byte-at-a-time version of schema version 1).
TEST(StoredEvent, ContentHashIsStableAcrossVersions)
{
    StoredEvent s = test::full_event(7);
    EXPECT_EQ(content_hash(s.event), 7538738152260111130ULL);
    s.event.findings.clear();
    s.event.scores.reset();
    s.event.unique_id.clear();
    EXPECT_EQ(content_hash(s.event), 13059716295389265546ULL);
}

TEST(StoredEvent, FindingsBlobRoundTrips)
{
    const std::vector<std::vector<Finding>> cases = {
        {},
        test::full_event().event.findings,
        {Finding{}},
        {[] {
            Finding f;
            f.id = "1";
            f.paranoia_level = -3;
            f.phase = 5;
            f.tags = {"", "a\nb", ""};
            return f;
        }()},
    };
    for (const auto& findings : cases) {
        MapIds ids;
        std::string blob;
        ASSERT_TRUE(encode_findings(findings, ids, blob));
        auto back = decode_findings(blob, ids);
        ASSERT_TRUE(back.has_value());
        EXPECT_EQ(*back, findings);
    }
}

TEST(StoredEvent, RepeatedStringsAreInternedOnce)
{
    MapIds ids;
    std::string blob;
    const auto findings = test::full_event().event.findings;
    ASSERT_TRUE(encode_findings(findings, ids, blob));
    const std::size_t strings = ids.m_ids.size();
    const std::size_t size = blob.size();
    ASSERT_TRUE(encode_findings(findings, ids, blob));
    EXPECT_EQ(ids.m_ids.size(), strings);
    EXPECT_EQ(blob.size(), 2 * size);
    EXPECT_EQ(finding_rule_ids(blob),
              (std::vector<std::int64_t>{ids.m_ids["942100"], ids.m_ids["942110"]}));
}

TEST(StoredEvent, MalformedBlobsAreRejected)
{
    MapIds ids;
    std::string blob;
    ASSERT_TRUE(encode_findings(test::full_event().event.findings, ids, blob));
    const std::vector<std::string> cases = {
        blob.substr(0, blob.size() - 1),                        // data cut short
        blob.substr(0, 3),                                      // ids cut short
        std::string(12, '\xff'),                                // a varint that never ends
        std::string("\x63\x01\x01\x00\x00\x00\x00\x00\x00", 9), // unknown string id 99
    };
    for (const auto& bad : cases) {
        EXPECT_FALSE(decode_findings(bad, ids).has_value());
    }
    EXPECT_TRUE(finding_rule_ids(cases[0]).empty());

    // A tag set whose length runs past its end: the whole blob is refused.
    const auto tags = ids.id_of("\x05"
                                "ab");
    ASSERT_TRUE(tags.has_value() && *tags < 128);
    std::string bad_tags("\x01\x01\x01", 3);
    bad_tags += static_cast<char>(*tags);
    bad_tags += std::string(5, '\0'); // target "", PL 0, phase 0, flags 0, no data
    EXPECT_FALSE(decode_findings(bad_tags, ids).has_value());
    bad_tags[3] = '\0'; // the same finding without tags decodes
    EXPECT_TRUE(decode_findings(bad_tags, ids).has_value());
}

TEST(StoredEvent, ScoresBlobRoundTrips)
{
    EXPECT_EQ(encode_scores(std::nullopt), "");
    const auto scores = test::full_event().event.scores;
    const auto back = decode_scores(encode_scores(scores));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, *scores);
    EXPECT_FALSE(decode_scores("\x01\x02").has_value());
}

TEST(StoredEvent, VarintsRoundTrip)
{
    for (const std::uint64_t v : {0ULL, 1ULL, 127ULL, 128ULL, 300ULL, 1ULL << 35U, ~0ULL}) {
        std::string s;
        put_varint(s, v);
        std::string_view in = s;
        std::uint64_t back = 0;
        ASSERT_TRUE(get_varint(in, back));
        EXPECT_EQ(back, v);
        EXPECT_TRUE(in.empty());
    }
}

TEST(StoredEvent, EngineModeNames)
{
    const std::pair<std::string_view, std::optional<EngineMode>> cases[] = {
        {"on", EngineMode::on},
        {"detection_only", EngineMode::detection_only},
        {"detection-only", EngineMode::detection_only},
        {"DetectionOnly", EngineMode::detection_only},
        {"unknown", EngineMode::unknown},
        {"off", std::nullopt},
        {"", std::nullopt},
    };
    for (const auto& [name, mode] : cases) {
        EXPECT_EQ(parse_engine_mode(name), mode) << name;
    }
    EXPECT_EQ(engine_mode_name(EngineMode::detection_only), "detection_only");
    EXPECT_EQ(verdict_name(Verdict::would_block), "would_block");
}

} // namespace
} // namespace mso
