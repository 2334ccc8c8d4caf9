// protocol/import_line.cpp: the import stream's lines: an event encoded by the CLI
// decodes to the same event and engine mode in the daemon, within the datagram's bounds
// whatever the event holds; control lines and the start command are told apart from
// events, and a bad source is refused.
#include "protocol/import_line.h"

#include <gtest/gtest.h>

namespace mso {
namespace {

RequestEvent sample_event()
{
    RequestEvent e;
    e.time_us = 1'764'654'568'889'399;
    e.vhost = "detect.test";
    e.port = 80;
    e.unique_id = "aw-xaJAMLc14kCICCcz5OwAAAEA";
    e.client = "127.0.0.1";
    e.method = "GET";
    e.path = "/";
    e.query = "id=1%27%20OR%201%3D1--";
    e.status = 200;
    e.protocol = "HTTP/1.1";
    e.user_agent = "curl/7.88.1";
    AnomalyScores s;
    s.inbound = 5;
    s.inbound_pl = {5, 0, 0, 0};
    s.inbound_threshold = 5;
    s.outbound_threshold = 4;
    s.blocking_pl = 1;
    s.detection_pl = 1;
    e.scores = s;
    Finding f;
    f.id = "942100";
    f.msg = "SQL Injection Attack Detected via libinjection";
    f.severity = "CRITICAL";
    f.paranoia_level = 1;
    f.phase = 2;
    f.tags = {"application-multi", "attack-sqli"};
    f.target = "ARGS:id";
    f.data = "Matched Data: s&1c found within ARGS:id: 1' OR 1=1--";
    e.findings.push_back(f);
    return e;
}

ImportedEvent round_trip(const RequestEvent& e, std::string_view vhost, EngineMode mode)
{
    std::string line;
    encode_import_line(e, vhost, mode, line);
    EXPECT_LE(line.size(), k_max_import_line_bytes);
    EXPECT_EQ(import_line_kind(line), ImportLineKind::event);
    auto decoded = decode_import_line(line);
    if (auto* failure = std::get_if<DecodeFailure>(&decoded)) {
        ADD_FAILURE() << failure->detail << " in " << line.substr(0, 200);
        return {};
    }
    return std::get<ImportedEvent>(decoded);
}

TEST(ImportLine, AnEventRoundTripsWithItsEngineModeAndVhost)
{
    for (const EngineMode mode :
         {EngineMode::on, EngineMode::detection_only, EngineMode::unknown}) {
        const RequestEvent e = sample_event();
        const ImportedEvent got = round_trip(e, "shop", mode);
        RequestEvent want = e;
        want.vhost = "shop";
        EXPECT_EQ(got.event, want);
        EXPECT_EQ(got.engine_mode, mode);
    }
    RequestEvent no_scores = sample_event();
    no_scores.scores.reset();
    no_scores.intercepted = true;
    no_scores.phase = 2;
    EXPECT_EQ(round_trip(no_scores, "detect.test", EngineMode::on).event, no_scores);
}

TEST(ImportLine, MatchedDataKeepsWhatItIsAllowed)
{
    RequestEvent e = sample_event();
    const std::string data = e.findings[0].data; // 53 bytes
    const auto encoded = [&](std::size_t max_data) {
        std::string line;
        encode_import_line(e, "shop", EngineMode::on, line, max_data);
        auto decoded = decode_import_line(line);
        EXPECT_TRUE(std::holds_alternative<ImportedEvent>(decoded)) << line;
        return std::get<ImportedEvent>(decoded).event.findings.at(0);
    };
    const Finding off = encoded(0);
    EXPECT_EQ(off.data, "");
    EXPECT_FALSE(off.data_truncated);
    const Finding cut = encoded(12);
    EXPECT_EQ(cut.data, data.substr(0, 12));
    EXPECT_TRUE(cut.data_truncated);
    const Finding whole = encoded(k_import_data_default);
    EXPECT_EQ(whole.data, data);
    EXPECT_FALSE(whole.data_truncated);
    // `full` keeps up to 4,096 bytes, which the collector's decoder accepts.
    e.findings[0].data = std::string(5000, 'x');
    const Finding full = encoded(k_import_data_max);
    EXPECT_EQ(full.data, std::string(k_import_data_max, 'x'));
    EXPECT_TRUE(full.data_truncated);
    EXPECT_EQ(encoded(k_import_data_default).data.size(), k_import_data_default);
}

// limit_matched_data (console uploads) cuts as an import line does, and never inside a
// UTF-8 character.
TEST(ImportLine, LimitMatchedDataCutsAsTheImportLineDoes)
{
    const RequestEvent e = sample_event();
    for (const std::size_t max_data : {std::size_t{0}, std::size_t{12}, k_import_data_default}) {
        std::string line;
        encode_import_line(e, "shop", EngineMode::on, line, max_data);
        const auto decoded = decode_import_line(line);
        ASSERT_TRUE(std::holds_alternative<ImportedEvent>(decoded)) << line;
        Finding f = e.findings[0];
        limit_matched_data(f, max_data);
        EXPECT_EQ(f, std::get<ImportedEvent>(decoded).event.findings.at(0)) << max_data;
    }
    const auto limited = [](std::string data, std::size_t max_data) {
        Finding f;
        f.data = std::move(data);
        limit_matched_data(f, max_data);
        return std::pair(f.data, f.data_truncated);
    };
    EXPECT_EQ(limited("ab\xC3\xA9"
                      "cd",
                      3),
              std::pair(std::string("ab"), true));
    EXPECT_EQ(limited("ab\xC3\xA9"
                      "cd",
                      4),
              std::pair(std::string("ab\xC3\xA9"), true));
    EXPECT_EQ(limited("a\xF0\x9F\x98\x80"
                      "b",
                      4),
              std::pair(std::string("a"), true));
    EXPECT_EQ(limited("a\xF0\x9F\x98\x80"
                      "b",
                      5),
              std::pair(std::string("a\xF0\x9F\x98\x80"), true));
    EXPECT_EQ(limited("abc", 3), std::pair(std::string("abc"), false));
    EXPECT_EQ(limited(std::string(5000, 'x'), 100000),
              std::pair(std::string(k_import_data_max, 'x'), true));
}

TEST(ImportLine, AHugeEventIsCutToWhatTheDecoderAccepts)
{
    RequestEvent e = sample_event();
    e.path = "/" + std::string(5000, '\xff'); // invalid UTF-8 triples when replaced
    e.user_agent = std::string(10000, 'u');
    Finding big = e.findings.front();
    big.data = std::string(100000, 'd');
    big.msg = std::string(3000, '"');
    e.findings.assign(300, big);
    const ImportedEvent got = round_trip(e, std::string(1000, 'v'), EngineMode::on);
    EXPECT_EQ(got.event.user_agent.size(), 256U);
    EXPECT_GT(got.event.findings.size(), 10U);
    EXPECT_EQ(got.event.findings.size() + got.event.findings_dropped, 300U);
    EXPECT_TRUE(got.event.findings.front().data_truncated);
    EXPECT_EQ(got.event.findings.front().data.size(), 256U);
}

TEST(ImportLine, EngineModeIsReadAtTheTopLevelOnly)
{
    struct Case {
        const char* name;
        std::string line;
        EngineMode mode;
    };
    const std::string base =
        R"({"v":1,"type":"request","time_us":1,"vhost":"a","port":80,"client":"c","method":"GET",)"
        R"("path":"/","status":200,"protocol":"HTTP/1.1","intercepted":false,"scores":null,)";
    const Case cases[] = {
        {"top level", base + R"("findings":[],"engine_mode":"on"})", EngineMode::on},
        {"spaces", base + R"("findings":[], "engine_mode" : "detection_only"})",
         EngineMode::detection_only},
        {"absent", base + R"("findings":[]})", EngineMode::unknown},
        {"unknown value", base + R"("findings":[],"engine_mode":"off"})", EngineMode::unknown},
        {"in a finding",
         base + R"("findings":[{"engine_mode":"on","id":"1","msg":"m",)"
                R"("severity":"","pl":0,"phase":0,"tags":[],"target":"",)"
                R"("data":"","intercepted":false,"truncated":false}]})",
         EngineMode::unknown},
        {"in a string", base + R"("findings":[],"user_agent":"x\",\"engine_mode\":\"on"})",
         EngineMode::unknown},
    };
    for (const Case& c : cases) {
        auto decoded = decode_import_line(c.line);
        ASSERT_TRUE(std::holds_alternative<ImportedEvent>(decoded)) << c.name;
        EXPECT_EQ(std::get<ImportedEvent>(decoded).engine_mode, c.mode) << c.name;
    }
}

TEST(ImportLine, MalformedLinesAreDecodeFailures)
{
    for (const std::string& line : {std::string("not json"), std::string("{}"),
                                    std::string(R"({"v":1,"type":"counters","vhost":"a"})"),
                                    std::string(R"({"v":1,"type":"request"})")}) {
        EXPECT_TRUE(std::holds_alternative<DecodeFailure>(decode_import_line(line))) << line;
    }
}

TEST(ImportLine, ControlLinesAreToldFromEvents)
{
    EXPECT_EQ(import_line_kind(k_import_sync_line), ImportLineKind::sync);
    EXPECT_EQ(import_line_kind(k_import_end_line), ImportLineKind::end);
    EXPECT_EQ(import_line_kind(R"({ "cmd" : "sync" })"), ImportLineKind::sync);
    EXPECT_EQ(import_line_kind(R"({"cmd":"stats"})"), ImportLineKind::bad_command);
    EXPECT_EQ(import_line_kind(R"({"cmd":1})"), ImportLineKind::bad_command);
    EXPECT_EQ(import_line_kind(R"({"v":1,"path":"/?cmd=sync"})"), ImportLineKind::event);
    EXPECT_EQ(import_line_kind("garbage"), ImportLineKind::event); // then fails to decode
}

TEST(ImportLine, TheStartCommandNamesAValidSource)
{
    EXPECT_FALSE(parse_import_start(R"({"cmd":"stats"})"));
    EXPECT_FALSE(parse_import_start(R"({"cmd":"events","vhost":"import"})"));
    const auto started = parse_import_start(import_start_line("import:audit.log"));
    ASSERT_TRUE(started);
    ASSERT_TRUE(*started) << started->error();
    EXPECT_EQ(**started, "import:audit.log");
    for (const std::string& bad :
         {std::string(R"({"cmd":"import"})"), std::string(R"({"cmd":"import","source":""})"),
          std::string(R"({"cmd":"import","source":"module"})"),
          std::string(R"({"cmd":"import","source":"a\u0001b"})"),
          std::string(R"({"cmd":"import","source":7})"),
          import_start_line(std::string(257, 's'))}) {
        const auto r = parse_import_start(bad);
        ASSERT_TRUE(r) << bad;
        EXPECT_FALSE(*r) << bad;
    }
}

} // namespace
} // namespace mso
