// Shared by the store's unit tests: a scratch directory and fully populated events.
#pragma once

#include "store/history_store.h"
#include "store/posting_hits.h"
#include "store/sqlite_db.h"

#include "temp_dir.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace mso::test {

// A fresh directory under /tmp for one store, removed with everything in it.
struct TempDir : mso::test_support::TempDir {
    TempDir() : mso::test_support::TempDir("mso-store") {}
    [[nodiscard]] std::string db() const { return path() + "/history.db"; }
};

// The integer `sql` gives on a connection of its own to `path` (with the postings'
// functions, so a query may call them); -1, and a test failure, on error.
inline std::int64_t sql_integer(const std::string& path, const std::string& sql)
{
    auto db = Db::open(path, false);
    EXPECT_TRUE(db.has_value()) << db.error();
    if (!db) {
        return -1;
    }
    EXPECT_EQ(register_postings(db->handle()), 0);
    auto v = db->integer(sql);
    EXPECT_TRUE(v.has_value()) << v.error();
    return v ? *v : -1;
}

inline constexpr std::int64_t k_t0 = 1'699'999'980'000'000; // 2023-11-14, on a minute

// An event with every field set; `n` varies the unique id, client and time.
inline StoredEvent full_event(int n = 0)
{
    StoredEvent s;
    s.source = "module";
    s.engine_mode = EngineMode::detection_only;
    RequestEvent& e = s.event;
    e.time_us = k_t0 + n * 1'000'000LL;
    e.vhost = "shop.example.com";
    e.port = 8443;
    e.unique_id = "ZfPq8H8AAQEAAAbZVKcAAA" + std::to_string(n);
    e.client = "203.0.113." + std::to_string(n % 250);
    e.method = "POST";
    e.path = "/cart/checkout";
    e.query = "id=1%27%20or%201=1";
    e.status = 200;
    e.protocol = "HTTP/2.0";
    e.user_agent = "sqlmap/1.7.2#stable (https://sqlmap.org)";
    e.intercepted = false;
    e.phase = 2;
    AnomalyScores sc;
    sc.inbound = 15;
    sc.outbound = 4;
    sc.inbound_pl = {10, 5, 0, 0};
    sc.outbound_pl = {4, 0, 0, -1};
    sc.inbound_threshold = 5;
    sc.outbound_threshold = 4;
    sc.blocking_pl = 1;
    sc.detection_pl = 2;
    e.scores = sc;
    Finding f;
    f.id = "942100";
    f.msg = "SQL Injection Attack Detected via libinjection";
    f.severity = "CRITICAL";
    f.paranoia_level = 1;
    f.phase = 2;
    f.tags = {"application-multi", "attack-sqli", "paranoia-level/1", "capec/1000/152/248/66"};
    f.target = "ARGS:id";
    f.data = "Matched Data: s&1c found within ";
    f.data_truncated = true;
    e.findings.push_back(f);
    Finding g = f;
    g.id = "942110";
    g.msg = "SQL Injection Attack: Common Injection Testing Detected";
    g.severity = "WARNING";
    g.paranoia_level = 2;
    g.tags = {};
    g.data = "\x01\xff binary \n data";
    g.data_truncated = false;
    g.truncated = true;
    e.findings.push_back(g);
    Finding h;
    h.msg = "Multipart parsing error";
    h.engine = true;
    h.intercepted = true;
    e.findings.push_back(h);
    e.findings_dropped = 3;
    return s;
}

} // namespace mso::test
