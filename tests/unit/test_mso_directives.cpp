// The ModSecObserve* directives' argument parsing: every accepted form, the bounds on
// both sides, overflow, garbage, empty and case, with the exact "<Directive>: reason"
// that httpd prints for a rejected value.
#include "mso_directives.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>

namespace mso {
namespace {

// The parse of one argument: its value when accepted, else the error it must give.
template <typename T> struct Case {
    std::string arg;
    T value;           // when error is ""
    std::string error; // the whole rejection text, or "" for an accepted value
};

template <typename T, typename Parse> void check(const Case<T>& c, Parse parse)
{
    SCOPED_TRACE("argument \"" + c.arg + "\"");
    const DirectiveValue<T> got = parse(c.arg.c_str());
    if (c.error.empty()) {
        ASSERT_TRUE(got.has_value()) << got.error();
        EXPECT_EQ(*got, c.value);
        EXPECT_EQ(got.error(), "");
    } else {
        ASSERT_FALSE(got.has_value());
        EXPECT_EQ(got.error(), c.error);
    }
}

TEST(ModSecObserveSocket, AbsoluteAndShortEnoughForSockaddrUn)
{
    const std::string too_long = "ModSecObserveSocket: path longer than 107 bytes";
    const std::string relative = "ModSecObserveSocket: the socket path must be absolute";
    const Case<std::string> cases[] = {
        {"/run/modsec-observe/events.sock", "/run/modsec-observe/events.sock", ""},
        {"/", "/", ""},
        {"/" + std::string(106, 's'), "/" + std::string(106, 's'), ""}, // 107 bytes + NUL
        {"/" + std::string(107, 's'), "", too_long},
        {"/" + std::string(4000, 's'), "", too_long},
        {"", "", relative},
        {"events.sock", "", relative},
        {"./events.sock", "", relative},
        {" /run/events.sock", "", relative},
    };
    for (const auto& c : cases) {
        check(c, [](const char* arg) -> DirectiveValue<std::string> {
            const DirectiveValue<const char*> v = parse_socket_path(arg);
            if (!v)
                return rejected(v.error());
            return std::string(*v);
        });
    }
}

TEST(ModSecObserveVhostName, OneTo255PrintableBytesWithoutQuotesOrBackslashes)
{
    const std::string length = "ModSecObserveVhostName: the label must be 1 to 255 characters";
    const std::string chars = "ModSecObserveVhostName: the label may not contain spaces, "
                              "quotes, backslashes or control characters";
    const Case<std::string> cases[] = {
        {"shop", "shop", ""},
        {"a", "a", ""},
        {"shop.example:8443", "shop.example:8443", ""},
        {"Shop_EU-1/~'x'", "Shop_EU-1/~'x'", ""},
        {"b\xc3\xbcro", "b\xc3\xbcro", ""}, // UTF-8 is kept as it is
        {std::string(255, 'v'), std::string(255, 'v'), ""},
        {std::string(256, 'v'), "", length},
        {"", "", length},
        {"my shop", "", chars},
        {" shop", "", chars},
        {"shop\t", "", chars},
        {"sh\"op", "", chars},
        {"sh\\op", "", chars},
        {"sh\x01op", "", chars},
        {"sh\x1fop", "", chars},
        {"sh\x7fop", "", chars},
        {"sh\nop", "", chars},
    };
    for (const auto& c : cases) {
        check(c, [](const char* arg) -> DirectiveValue<std::string> {
            const DirectiveValue<const char*> v = parse_vhost_name(arg);
            if (!v)
                return rejected(v.error());
            return std::string(*v);
        });
    }
}

TEST(ModSecObserveEvents, FlaggedOrAll)
{
    const auto bad = [](const std::string& arg) {
        return "ModSecObserveEvents: expected \"flagged\" or \"all\", got \"" + arg + "\"";
    };
    const Case<EventMode> cases[] = {
        {"flagged", EventMode::flagged, ""},       {"all", EventMode::all, ""},
        {"", EventMode::unset, bad("")},           {"Flagged", EventMode::unset, bad("Flagged")},
        {"ALL", EventMode::unset, bad("ALL")},     {"all ", EventMode::unset, bad("all ")},
        {" all", EventMode::unset, bad(" all")},   {"none", EventMode::unset, bad("none")},
        {"unset", EventMode::unset, bad("unset")}, {"flag", EventMode::unset, bad("flag")},
        {"allx", EventMode::unset, bad("allx")},
    };
    for (const auto& c : cases)
        check(c, parse_event_mode);
}

TEST(ModSecObserveProtocol, OneOrTwo)
{
    const auto bad = [](const std::string& arg) {
        return "ModSecObserveProtocol: expected 1 or 2, got \"" + arg + "\"";
    };
    const Case<int> cases[] = {
        {"1", 1, ""},         {"2", 2, ""},         {"", 0, bad("")},
        {"3", 0, bad("3")},   {"0", 0, bad("0")},   {"02", 0, bad("02")},
        {"2 ", 0, bad("2 ")}, {"v2", 0, bad("v2")}, {"-1", 0, bad("-1")},
    };
    for (const auto& c : cases)
        check(c, parse_protocol);
}

TEST(ModSecObserveMatchedData, FullTruncateHashOrOff)
{
    const auto range = [](const std::string& arg) {
        return "ModSecObserveMatchedData: truncate:N needs N from 1 to 4096 bytes, got \"" + arg +
               "\"";
    };
    const auto bad = [](const std::string& arg) {
        return "ModSecObserveMatchedData: expected full, truncate:N, hash or off, got \"" + arg +
               "\"";
    };
    using M = MatchedDataMode;
    const MatchedDataSetting none{};
    const Case<MatchedDataSetting> cases[] = {
        {"full", {M::keep, k_full_data_bytes}, ""},
        {"hash", {M::hash, 0}, ""},
        {"off", {M::off, 0}, ""},
        {"truncate:32", {M::keep, 32}, ""},
        {"truncate:1", {M::keep, 1}, ""},
        {"truncate:4096", {M::keep, 4096}, ""},
        {"truncate:007", {M::keep, 7}, ""},
        // strtol's leniency: a sign and leading blanks are read as a number.
        {"truncate:+8", {M::keep, 8}, ""},
        {"truncate: 8", {M::keep, 8}, ""},
        {"truncate:0", none, range("truncate:0")},
        {"truncate:4097", none, range("truncate:4097")},
        {"truncate:-1", none, range("truncate:-1")},
        {"truncate:", none, range("truncate:")},
        {"truncate:x", none, range("truncate:x")},
        {"truncate:8x", none, range("truncate:8x")},
        {"truncate:8 ", none, range("truncate:8 ")},
        {"truncate:1.5", none, range("truncate:1.5")},
        {"truncate:99999999999999999999", none, range("truncate:99999999999999999999")},
        {"truncate:-99999999999999999999", none, range("truncate:-99999999999999999999")},
        {"", none, bad("")},
        {"truncate", none, bad("truncate")},
        {"truncate=8", none, bad("truncate=8")},
        {"Truncate:8", none, bad("Truncate:8")},
        {"FULL", none, bad("FULL")},
        {"Hash", none, bad("Hash")},
        {"On", none, bad("On")},
        {"full ", none, bad("full ")},
        {"hash:sha1", none, bad("hash:sha1")},
        {"8", none, bad("8")},
    };
    for (const auto& c : cases)
        check(c, parse_matched_data);
}

TEST(ModSecObserveFlushInterval, MillisecondsFrom50To60000)
{
    const auto bad = [](const std::string& arg) {
        return "ModSecObserveFlushInterval: expected milliseconds from 50 to 60000, got \"" + arg +
               "\"";
    };
    const Case<int> cases[] = {
        {"1000", 1000, ""},
        {"50", 50, ""},
        {"60000", 60000, ""},
        {"0050", 50, ""},
        {"+100", 100, ""},
        {" 100", 100, ""},
        {"49", 0, bad("49")},
        {"60001", 0, bad("60001")},
        {"0", 0, bad("0")},
        {"-1000", 0, bad("-1000")},
        {"", 0, bad("")},
        {"fast", 0, bad("fast")},
        {"100ms", 0, bad("100ms")},
        {"1s", 0, bad("1s")},
        {"1e3", 0, bad("1e3")},
        {"100 ", 0, bad("100 ")},
        {"99999999999999999999", 0, bad("99999999999999999999")},
        {"-99999999999999999999", 0, bad("-99999999999999999999")},
        {"4294968296", 0, bad("4294968296")}, // 2^32 + 1000 must not wrap to 1000
    };
    for (const auto& c : cases)
        check(c, parse_flush_interval);
}

TEST(ModSecObserveSpoolSize, BytesOrKMGFrom64KTo64G)
{
    constexpr std::uint64_t k = 1024;
    const std::pair<const char*, std::uint64_t> cases[] = {
        {"64K", 64 * k},
        {"64k", 64 * k},
        {"65536", 64 * k},
        {"16M", 16 * k * k},
        {"16m", 16 * k * k},
        {"1G", k * k * k},
        {"64G", 64 * k * k * k},
        {"64g", 64 * k * k * k},
        {"68719476736", 64 * k * k * k},
        {"65536K", 64 * k * k},
        {"67108864K", 64 * k * k * k},
        {"65536M", 64 * k * k * k},
        {"+64K", 64 * k},
        // Rejected: 0.
        {"65535", 0},
        {"63K", 0},
        {"68719476737", 0},
        {"65G", 0},
        {"65537M", 0},
        {"0", 0},
        {"0K", 0},
        {"10", 0},
        {"", 0},
        {"K", 0},
        {"M16", 0},
        {"-1M", 0},
        {"-0", 0},
        {"12Q", 0},
        {"16MB", 0},
        {"16 M", 0},
        {"16M ", 0},
        {"1.5G", 0},
        {"18446744073709551615", 0},
        {"18446744073709551616", 0},
        {"18014398509481984K", 0}, // 2^64 bytes: n * unit would wrap
        {"17592186044416M", 0},
        {"17179869184G", 0},
    };
    for (const auto& [arg, bytes] : cases)
        EXPECT_EQ(parse_spool_size(arg), bytes) << "argument \"" << arg << "\"";
}

TEST(ModSecObserveSpool, AbsoluteDirectoryAndOptionalMaxSize)
{
    const std::string relative = "ModSecObserveSpool: the spool directory must be absolute";
    const std::string long_dir = "ModSecObserveSpool: the spool directory path is too long";
    const auto bad_size = [](const std::string& size) {
        return "ModSecObserveSpool: max-size must be from 64K to 64G (bytes, or with K, M or "
               "G), got \"" +
               size + "\"";
    };
    struct SpoolCase {
        std::string dir;
        const char* size; // nullptr: not given
        std::uint64_t max_bytes;
        std::string error;
    };
    const std::string at_bound = "/" + std::string(2999, 'd');
    const SpoolCase cases[] = {
        {"/var/spool/modsec-observe", nullptr, k_default_spool_max_bytes, ""},
        {"/var/spool/modsec-observe", "1G", 1024ULL * 1024 * 1024, ""},
        {"/", "64K", 64 * 1024, ""},
        {at_bound, nullptr, k_default_spool_max_bytes, ""},
        {at_bound + "d", nullptr, 0, long_dir},
        {at_bound + "d", "junk", 0, long_dir}, // the directory is checked first
        {"relative/dir", nullptr, 0, relative},
        {"", nullptr, 0, relative},
        {"spool", "junk", 0, relative},
        {"/tmp/x", "10", 0, bad_size("10")},
        {"/tmp/x", "65G", 0, bad_size("65G")},
        {"/tmp/x", "12Q", 0, bad_size("12Q")},
        {"/tmp/x", "-1M", 0, bad_size("-1M")},
        {"/tmp/x", "", 0, bad_size("")},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE("ModSecObserveSpool " + c.dir.substr(0, 40) + " " +
                     (c.size ? c.size : "(no size)"));
        const DirectiveValue<SpoolSetting> got = parse_spool(c.dir.c_str(), c.size);
        if (c.error.empty()) {
            ASSERT_TRUE(got.has_value()) << got.error();
            EXPECT_EQ(got->dir, c.dir.c_str()); // the argument itself, not a copy
            EXPECT_EQ(got->max_bytes, c.max_bytes);
        } else {
            ASSERT_FALSE(got.has_value());
            EXPECT_EQ(got.error(), c.error);
        }
    }
}

TEST(SecRuleEngineValue, OnOffOrDetectionOnlyInAnyCaseQuotedOrNot)
{
    EXPECT_STREQ(sec_rule_engine_value("On"), "on");
    EXPECT_STREQ(sec_rule_engine_value("off"), "off");
    EXPECT_STREQ(sec_rule_engine_value("DetectionOnly"), "detection_only");
    EXPECT_STREQ(sec_rule_engine_value("  detectiononly\t"), "detection_only");
    EXPECT_STREQ(sec_rule_engine_value("\"On\""), "on");
    EXPECT_EQ(sec_rule_engine_value(""), nullptr);
    EXPECT_EQ(sec_rule_engine_value("  "), nullptr);
    EXPECT_EQ(sec_rule_engine_value("\""), nullptr);
    EXPECT_EQ(sec_rule_engine_value("Detection"), nullptr);
    EXPECT_EQ(sec_rule_engine_value("On Off"), nullptr);
    EXPECT_EQ(sec_rule_engine_value("Onx"), nullptr);
}

} // namespace
} // namespace mso
