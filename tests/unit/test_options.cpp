// Tests for daemon/options: parsing the command line and the --config file (and which
// wins), the checks start-up applies, the access policies, and what a reload applies
// versus what waits for a restart. Table-driven; no sockets.
#include "daemon/options.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// A config file in a fresh temp directory, removed with it.
class ConfigFile {
public:
    explicit ConfigFile(const std::string& text)
    {
        std::string pattern = "/tmp/mso-opt-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        m_dir = pattern;
        m_path = m_dir + "/observed.conf";
        std::ofstream(m_path) << text;
    }
    ~ConfigFile()
    {
        std::error_code ignored;
        std::filesystem::remove_all(m_dir, ignored);
    }
    ConfigFile(const ConfigFile&) = delete;
    ConfigFile& operator=(const ConfigFile&) = delete;
    [[nodiscard]] const std::string& path() const { return m_path; }
    [[nodiscard]] const std::string& dir() const { return m_dir; }

private:
    std::string m_dir;
    std::string m_path;
};

mso::Result<mso::Options> parse(const std::vector<std::string>& args)
{
    std::vector<const char*> argv{"modsec-observed"};
    for (const std::string& a : args) {
        argv.push_back(a.c_str());
    }
    return mso::parse_options(static_cast<int>(argv.size()), argv.data());
}

TEST(ParseOptions, Defaults)
{
    const auto opt = parse({});
    ASSERT_TRUE(opt) << opt.error();
    EXPECT_EQ(opt->event_socket, "/run/modsec-observe/events.sock");
    EXPECT_EQ(opt->query_socket, "/run/modsec-observe/query.sock");
    EXPECT_EQ(opt->event_mode, "0660");
    EXPECT_EQ(opt->query_mode, "0660");
    EXPECT_EQ(opt->events_ring, mso::k_default_events_ring);
    EXPECT_EQ(opt->snapshot_interval, 60U);
    EXPECT_TRUE(opt->allow_uids.empty());
    EXPECT_TRUE(opt->state_dir.empty());
    EXPECT_TRUE(opt->metrics_listen.empty());
    EXPECT_FALSE(opt->no_history);
    EXPECT_EQ(opt->history_days, 30);
    EXPECT_EQ(opt->history_max_bytes, "2G");
}

TEST(HistoryPath, UnderTheStateDirUnlessOff)
{
    mso::Options opt;
    EXPECT_EQ(mso::history_path(opt), ""); // no --state-dir: nowhere to keep it
    opt.state_dir = "/var/lib/modsec-observe";
    EXPECT_EQ(mso::history_path(opt), "/var/lib/modsec-observe/history.db");
    opt.no_history = true;
    EXPECT_EQ(mso::history_path(opt), "");
}

TEST(ParseOptions, ValuesAndErrors)
{
    const struct {
        std::vector<std::string> args;
        std::function<bool(const mso::Options&)> check; // when valid
        const char* error;                              // substring, when not
    } cases[] = {
        {{"--events-ring", "5"}, [](const mso::Options& o) { return o.events_ring == 5; }, ""},
        {{"--events-ring=10000000"},
         [](const mso::Options& o) { return o.events_ring == 10'000'000; },
         ""},
        {{"--snapshot-interval", "0"},
         [](const mso::Options& o) { return o.snapshot_interval == 0; },
         ""},
        {{"--allow-uid", "www-data,33", "--allow-uid", "root"},
         [](const mso::Options& o) {
             return o.allow_uids == std::vector<std::string>{"www-data", "33", "root"};
         },
         ""},
        {{"--query-allow-gid", "adm"},
         [](const mso::Options& o) {
             return o.query_allow_gids == std::vector<std::string>{"adm"};
         },
         ""},
        {{"--event-socket-mode", "0600", "--query-socket-group", "adm"},
         [](const mso::Options& o) { return o.event_mode == "0600" && o.query_group == "adm"; },
         ""},
        {{"--events-ring", "0"}, nullptr, "--events-ring"},
        {{"--events-ring", "10000001"}, nullptr, "--events-ring"},
        {{"--events-ring", "many"}, nullptr, "--events-ring"},
        {{"--snapshot-interval", "604801"}, nullptr, "--snapshot-interval"},
        {{"--snapshot-interval", "-1"}, nullptr, "--snapshot-interval"},
        {{"--spool-dir", "/nonexistent-mso-spool"}, nullptr, "--spool-dir"},
        {{"--no-such-option"}, nullptr, "--no-such-option"},
        {{"--config", "/nonexistent-mso.conf"}, nullptr, "/nonexistent-mso.conf"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.args.front());
        const auto opt = parse(c.args);
        if (c.check) {
            ASSERT_TRUE(opt) << opt.error();
            EXPECT_TRUE(c.check(*opt));
        } else {
            ASSERT_FALSE(opt);
            EXPECT_NE(opt.error().find(c.error), std::string::npos) << opt.error();
        }
    }
}

// With the history store the ring keeps fewer events unless told otherwise (the store
// has them all); given on the command line or in the file, the value is kept either way.
TEST(ParseOptions, EventsRingDefaultFollowsTheHistoryStore)
{
    const ConfigFile config("events-ring = 7\n");
    const struct {
        std::vector<std::string> args;
        std::size_t events_ring;
    } cases[] = {
        {{}, mso::k_default_events_ring},
        {{"--state-dir", "/var/lib/x"}, mso::k_default_events_ring_with_history},
        {{"--state-dir", "/var/lib/x", "--no-history"}, mso::k_default_events_ring},
        {{"--state-dir", "/var/lib/x", "--events-ring", "10000"}, 10000},
        {{"--state-dir", "/var/lib/x", "--config", config.path()}, 7},
        {{"--events-ring", "5"}, 5},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(testing::PrintToString(c.args));
        const auto opt = parse(c.args);
        ASSERT_TRUE(opt) << opt.error();
        EXPECT_EQ(opt->events_ring, c.events_ring);
    }
    static_assert(mso::k_default_events_ring_with_history < mso::k_default_events_ring);
    // The start's parse (main) decides it the same way.
    for (const bool no_history : {false, true}) {
        std::vector<const char*> argv = {"modsec-observed", "--state-dir", "/var/lib/x"};
        if (no_history) {
            argv.push_back("--no-history");
        }
        mso::Options opt;
        EXPECT_FALSE(mso::parse_command_line(static_cast<int>(argv.size()), argv.data(), opt));
        EXPECT_EQ(opt.events_ring, no_history ? mso::k_default_events_ring
                                              : mso::k_default_events_ring_with_history);
    }
}

TEST(ParseOptions, CommandLineWinsOverTheConfigFile)
{
    const ConfigFile config("events-ring = 7\n"
                            "snapshot-interval = 5\n"
                            "allow-uid = nobody\n"
                            "query-socket = /tmp/from-config.sock\n");
    const struct {
        std::vector<std::string> args;
        std::size_t events_ring;
        unsigned snapshot_interval;
        std::vector<std::string> allow_uids;
        const char* query_socket;
    } cases[] = {
        {{"--config", config.path()}, 7, 5, {"nobody"}, "/tmp/from-config.sock"},
        {{"--config", config.path(), "--events-ring", "9"},
         9,
         5,
         {"nobody"},
         "/tmp/from-config.sock"},
        {{"--events-ring", "9", "--config", config.path()},
         9,
         5,
         {"nobody"},
         "/tmp/from-config.sock"},
        {{"--config", config.path(), "--allow-uid", "root", "--query-socket", "/tmp/q.sock"},
         7,
         5,
         {"root"},
         "/tmp/q.sock"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(testing::PrintToString(c.args));
        const auto opt = parse(c.args);
        ASSERT_TRUE(opt) << opt.error();
        EXPECT_EQ(opt->events_ring, c.events_ring);
        EXPECT_EQ(opt->snapshot_interval, c.snapshot_interval);
        EXPECT_EQ(opt->allow_uids, c.allow_uids);
        EXPECT_EQ(opt->query_socket, c.query_socket);
    }
}

TEST(ParseOptions, BadValueInTheConfigFile)
{
    const ConfigFile config("events-ring = 0\n");
    const auto opt = parse({"--config", config.path()});
    ASSERT_FALSE(opt);
    EXPECT_NE(opt.error().find("--events-ring"), std::string::npos) << opt.error();
}

TEST(ParseMode, OctalUpTo07777)
{
    const struct {
        const char* text;
        std::optional<mode_t> mode;
    } cases[] = {
        {"0660", 0660},         {"660", 0660},           {"0", 0},
        {"7777", 07777},        {"0600", 0600},          {"", std::nullopt},
        {"8", std::nullopt},    {"10000", std::nullopt}, {"0x1", std::nullopt},
        {"-660", std::nullopt}, {"660 ", std::nullopt},  {"rw", std::nullopt},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(mso::parse_mode(c.text), c.mode) << '"' << c.text << '"';
    }
}

TEST(CheckOptions, ErrorsNameTheOption)
{
    const struct {
        const char* name;
        std::function<void(mso::Options&)> change;
        const char* error; // "" when valid
    } cases[] = {
        {"defaults", [](mso::Options&) {}, ""},
        {"numeric group", [](mso::Options& o) { o.event_group = "4242"; }, ""},
        {"metrics address", [](mso::Options& o) { o.metrics_listen = "127.0.0.1:9145"; }, ""},
        {"bad event mode", [](mso::Options& o) { o.event_mode = "0999"; },
         "--event-socket-mode: invalid mode \"0999\" (expected octal, e.g. 0660)"},
        {"bad query mode", [](mso::Options& o) { o.query_mode = "rw"; },
         "--query-socket-mode: invalid mode \"rw\" (expected octal, e.g. 0660)"},
        {"both modes bad, one line each",
         [](mso::Options& o) {
             o.event_mode = "9";
             o.query_mode = "x";
         },
         "--event-socket-mode: invalid mode \"9\" (expected octal, e.g. 0660)\n"
         "--query-socket-mode: invalid mode \"x\" (expected octal, e.g. 0660)"},
        {"unknown group", [](mso::Options& o) { o.query_group = "no-such-group-mso"; },
         "--query-socket-group: unknown group no-such-group-mso"},
        {"host name for metrics", [](mso::Options& o) { o.metrics_listen = "localhost:9145"; },
         "--metrics-listen: \"localhost\" is not an IPv4 address (use e.g. 127.0.0.1:9145 or "
         "[::1]:9145)"},
        {"metrics port", [](mso::Options& o) { o.metrics_listen = "127.0.0.1:0"; },
         "--metrics-listen: invalid port \"0\" (expected 1-65535)"},
        {"same socket twice", [](mso::Options& o) { o.query_socket = o.event_socket; },
         "--event-socket and --query-socket must differ"},
        {"unknown user", [](mso::Options& o) { o.user = "no-such-user-mso"; },
         "--user: unknown user no-such-user-mso"},
        {"history size", [](mso::Options& o) { o.history_max_bytes = "2GB"; },
         "--history-max-bytes: not a size: \"2GB\" (a number of bytes, or with K, M, G or T, "
         "e.g. 2G)"},
        {"no history size limit", [](mso::Options& o) { o.history_max_bytes = "0"; }, ""},
        {"console matched data", [](mso::Options& o) { o.console_matched_data = "truncate:5000"; },
         "--console-matched-data: 'truncate:5000' is not full, truncate:N (N from 0 to 4096) or "
         "off"},
        {"console matched data off", [](mso::Options& o) { o.console_matched_data = "off"; }, ""},
        {"dashboard on loopback", [](mso::Options& o) { o.http_listen = "127.0.0.1:9180"; }, ""},
        {"dashboard on ::1", [](mso::Options& o) { o.http_listen = "[::1]:9180"; }, ""},
        {"dashboard beyond loopback", [](mso::Options& o) { o.http_listen = "0.0.0.0:9180"; },
         "--http-listen: 0.0.0.0:9180 is not a loopback address and the dashboard has no "
         "authentication: give --http-users FILE (htpasswd -B), or use 127.0.0.1 or [::1] (and "
         "an SSH tunnel or a reverse proxy with authentication), or say --http-insecure"},
        {"dashboard certificate without its key",
         [](mso::Options& o) {
             o.http_listen = "127.0.0.1:9180";
             o.http_tls_cert = "/etc/modsec-observe/dashboard.pem";
         },
         "--http-tls-cert and --http-tls-key go together"},
        {"dashboard beyond loopback, with users",
         [](mso::Options& o) {
             o.http_listen = "0.0.0.0:9180";
             o.http_users = "/etc/modsec-observe/users";
         },
         ""},
        {"dashboard beyond loopback, insecure",
         [](mso::Options& o) {
             o.http_listen = "10.0.0.1:9180";
             o.http_insecure = true;
         },
         ""},
        {"dashboard host name", [](mso::Options& o) { o.http_listen = "localhost:9180"; },
         "--http-listen: \"localhost\" is not an IPv4 address (use e.g. 127.0.0.1:9145 or "
         "[::1]:9145)"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        mso::Options opt;
        c.change(opt);
        const auto settings = mso::check_options(opt);
        if (*c.error == '\0') {
            EXPECT_TRUE(settings) << settings.error();
        } else {
            ASSERT_FALSE(settings);
            EXPECT_EQ(settings.error(), c.error);
        }
    }
}

TEST(CheckOptions, Settings)
{
    mso::Options opt;
    opt.event_mode = "0620";
    opt.query_group = "4242";
    opt.metrics_listen = "[::1]:9145";
    opt.user = "root";
    const auto settings = mso::check_options(opt);
    ASSERT_TRUE(settings) << settings.error();
    EXPECT_EQ(settings->event_file.mode, 0620U);
    EXPECT_FALSE(settings->event_file.group.has_value());
    EXPECT_EQ(settings->query_file.mode, 0660U);
    EXPECT_EQ(settings->query_file.group, 4242U);
    ASSERT_TRUE(settings->metrics.has_value());
    EXPECT_EQ(settings->metrics->host, "::1");
    EXPECT_EQ(settings->metrics->port, 9145);
    ASSERT_TRUE(settings->run_as.has_value());
    EXPECT_EQ(settings->run_as->uid, 0U);
    EXPECT_EQ(settings->history_max_bytes, std::int64_t{2} << 30); // the default "2G"
    EXPECT_EQ(settings->console_max_data, 256U);                   // the default "truncate:256"
    opt.console_matched_data = "full";
    EXPECT_EQ(mso::check_options(opt)->console_max_data, 4096U);

    const mso::PolicyBasis basis = mso::policy_basis(*settings);
    EXPECT_EQ(basis.self, 0U);
    EXPECT_EQ(basis.self_group, 0U);
    EXPECT_EQ(basis.query_group, 4242U);
}

TEST(CheckOptions, OneServerWhenMetricsAndDashboardShareAnAddress)
{
    mso::Options opt;
    opt.http_listen = "127.0.0.1:9180";
    opt.metrics_listen = "127.0.0.1:9180";
    auto settings = mso::check_options(opt);
    ASSERT_TRUE(settings) << settings.error();
    EXPECT_FALSE(settings->metrics.has_value()); // the dashboard serves /metrics
    ASSERT_TRUE(settings->http.has_value());
    EXPECT_EQ(settings->http->port, 9180);

    opt.metrics_listen = "127.0.0.1:9145";
    settings = mso::check_options(opt);
    ASSERT_TRUE(settings) << settings.error();
    ASSERT_TRUE(settings->metrics.has_value());
    EXPECT_EQ(settings->metrics->port, 9145);
}

TEST(AccessPolicies, DefaultsAndAllowlists)
{
    const mso::PolicyBasis basis{4242, 4343, std::nullopt};
    const struct {
        const char* name;
        std::function<void(mso::Options&)> change;
        mso::PolicyBasis basis;
        const char* events;  // describe(); nullptr: not checked (www-data may not exist)
        const char* queries; // describe(); nullptr: the basis's group may query
        const char* error;   // nullptr: valid
    } cases[] = {
        {"query clients default to our group", [](mso::Options&) {}, basis, nullptr, nullptr,
         nullptr},
        {"query socket group", [](mso::Options&) {}, {4242, 4343, 5000}, nullptr, nullptr, nullptr},
        {"given senders replace www-data",
         [](mso::Options& o) {
             o.allow_uids = {"7000"};
             o.allow_gids = {"7001"};
         },
         basis, "uids 0,4242,7000 gids 7001", "uids 0,4242 gids 4343", nullptr},
        {"given query clients replace the group",
         [](mso::Options& o) {
             o.query_allow_uids = {"8000", "0"};
         },
         basis, nullptr, "uids 0,4242,8000 gids (none)", nullptr},
        {"running as root",
         [](mso::Options& o) { o.allow_uids = {"1"}; },
         {0, 0, {}},
         "uids 0,1 gids (none)",
         "uids 0 gids 0",
         nullptr},
        {"unknown sender", [](mso::Options& o) { o.allow_uids = {"no-such-user-mso"}; }, basis,
         nullptr, nullptr, "--allow-uid/--allow-gid: unknown user no-such-user-mso"},
        {"unknown query group", [](mso::Options& o) { o.query_allow_gids = {"no-such-group-mso"}; },
         basis, nullptr, nullptr,
         "--query-allow-uid/--query-allow-gid: unknown group no-such-group-mso"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        mso::Options opt;
        c.change(opt);
        const auto policies = mso::access_policies(opt, c.basis);
        if (c.error != nullptr) {
            ASSERT_FALSE(policies);
            EXPECT_EQ(policies.error(), c.error);
            continue;
        }
        ASSERT_TRUE(policies) << policies.error();
        // Root and the collector's own user always may send and query.
        EXPECT_TRUE(policies->events.allows(0, 65534));
        EXPECT_TRUE(policies->events.allows(c.basis.self, 65534));
        EXPECT_TRUE(policies->queries.allows(c.basis.self, 65534));
        if (c.events != nullptr) {
            EXPECT_EQ(policies->events.describe(), c.events);
        }
        if (c.queries != nullptr) {
            EXPECT_EQ(policies->queries.describe(), c.queries);
        } else {
            EXPECT_TRUE(
                policies->queries.allows(65534, c.basis.query_group.value_or(c.basis.self_group)));
        }
    }
}

TEST(DiffOptions, WhatAReloadAppliesAndWhatWaits)
{
    const struct {
        const char* name;
        std::function<void(mso::Options&)> change;
        bool allowlists;
        bool events_ring;
        bool snapshot_interval;
        std::vector<std::string> need_restart;
    } cases[] = {
        {"nothing", [](mso::Options&) {}, false, false, false, {}},
        {"events ring",
         [](mso::Options& o) {
             o.events_ring = 3;
             o.events_ring_given = true;
         },
         false,
         true,
         false,
         {}},
        {"snapshot interval",
         [](mso::Options& o) { o.snapshot_interval = 1; },
         false,
         false,
         true,
         {}},
        {"sender allowlist",
         [](mso::Options& o) { o.allow_uids = {"nobody"}; },
         true,
         false,
         false,
         {}},
        {"query allowlist",
         [](mso::Options& o) { o.query_allow_gids = {"adm"}; },
         true,
         false,
         false,
         {}},
        {"sockets wait for a restart",
         [](mso::Options& o) {
             o.query_mode = "0600";
             o.event_socket = "/tmp/e.sock";
         },
         false,
         false,
         false,
         {"event-socket", "query-socket-mode"}},
        {"every restart-only option",
         [](mso::Options& o) {
             o.event_socket = "a";
             o.query_socket = "b";
             o.event_mode = "0600";
             o.query_mode = "0600";
             o.event_group = "adm";
             o.query_group = "adm";
             o.metrics_listen = "127.0.0.1:1";
             o.state_dir = "/tmp";
             o.user = "nobody";
             o.spool_dir = "/tmp";
             o.history_max_bytes = "1G";
             o.no_history = true;
             o.history_days = 7;
         },
         false,
         false,
         false,
         {"event-socket", "query-socket", "event-socket-mode", "query-socket-mode",
          "event-socket-group", "query-socket-group", "metrics-listen", "state-dir", "user",
          "spool-dir", "history-max-bytes", "no-history", "history-days"}},
        {"both kinds",
         [](mso::Options& o) {
             o.events_ring = 5;
             o.events_ring_given = true;
             o.allow_gids = {"33"};
             o.state_dir = "/var/lib/x";
         },
         true,
         true,
         false,
         {"state-dir"}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        const mso::Options running;
        mso::Options next;
        c.change(next);
        const mso::OptionChanges changes = mso::diff_options(running, next);
        EXPECT_EQ(changes.allowlists, c.allowlists);
        EXPECT_EQ(changes.events_ring, c.events_ring);
        EXPECT_EQ(changes.snapshot_interval, c.snapshot_interval);
        EXPECT_EQ(changes.need_restart, c.need_restart);
        // And back: the same options differ.
        const mso::OptionChanges back = mso::diff_options(next, running);
        EXPECT_EQ(back.need_restart, c.need_restart);
    }
}

// A reload whose file sets no events-ring keeps the default of the history store the
// daemon runs with, even when the file now names another store setting (applied only at
// a restart): a daemon without the store keeps its 10,000, one with it its 1,000.
TEST(DiffOptions, TheRingsDefaultFollowsTheRunningStore)
{
    const auto with_store = parse({"--state-dir", "/var/lib/x"});
    const auto without_store = parse({"--state-dir", "/var/lib/x", "--no-history"});
    ASSERT_TRUE(with_store && without_store);
    for (const auto& pair :
         {std::array{&*with_store, &*without_store}, std::array{&*without_store, &*with_store}}) {
        const mso::Options& running = *pair[0];
        const mso::Options& next = *pair[1];
        const mso::OptionChanges changes = mso::diff_options(running, next);
        EXPECT_FALSE(changes.events_ring) << running.events_ring;
        EXPECT_EQ(changes.need_restart, std::vector<std::string>{"no-history"});
    }
    // Given in the file, it applies.
    auto given = parse({"--state-dir", "/var/lib/x", "--no-history", "--events-ring", "1000"});
    ASSERT_TRUE(given);
    EXPECT_TRUE(mso::diff_options(*without_store, *given).events_ring);
}

} // namespace
