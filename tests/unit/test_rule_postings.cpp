// store/rule_postings.cpp and posting_hits.cpp: the postings' codec (round trips, every kind of
// damage refused without reading past the blob) and mso_rule_hits() over a real connection (newest
// first across rows and buckets, the window's ends, a damaged row reported).
#include "store/posting_hits.h"
#include "store/rule_postings.h"

#include "store/sqlite_db.h"
#include "store_test_events.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <random>

namespace mso {
namespace {

using test::TempDir;

std::vector<RuleHit> round_trip(std::int64_t bucket, const std::vector<RuleHit>& hits, bool& ok)
{
    std::string blob;
    encode_posting(bucket, hits, blob);
    std::vector<RuleHit> out;
    ok = decode_posting(bucket, blob, out);
    return out;
}

TEST(RulePostings, RoundTrips)
{
    constexpr std::int64_t w = k_posting_bucket_us;
    const std::int64_t big = std::numeric_limits<std::int64_t>::max();
    struct Case {
        const char* name;
        std::int64_t bucket;
        std::vector<RuleHit> hits;
    };
    const Case cases[] = {
        {"empty", 5, {}},
        {"one", 5, {{5 * w, 1}}},
        {"bucket's last microsecond", 5, {{6 * w - 1, 7}}},
        {"ties, ids going down",
         1'770'000'000,
         {{17'700'000'000'000'000, 900},
          {17'700'000'000'000'000, 901},
          {17'700'000'000'000'003, 2},
          {17'700'000'009'999'999, 1}}},
        {"negative times (bucket 0 spans -10 s to 10 s)", 0, {{-w + 1, 3}, {-1, 4}, {w - 1, 5}}},
        {"negative bucket", -3, {{-4 * w + 1, 1}, {-3 * w, 2}}},
        {"extreme ids", 9, {{9 * w, big}, {9 * w + 1, 0}, {9 * w + 2, -big}}},
    };
    for (const Case& c : cases) {
        bool ok = false;
        EXPECT_EQ(round_trip(c.bucket, c.hits, ok), c.hits) << c.name;
        EXPECT_TRUE(ok) << c.name;
    }
    // A live second: 1,000 hits, small deltas, a few bytes each.
    std::vector<RuleHit> live;
    for (int i = 0; i < 1000; ++i) {
        live.push_back({1'000 * w + i * 997, 5'000'000 + i});
    }
    std::string blob;
    encode_posting(1'000, live, blob);
    EXPECT_LE(blob.size(), 4 * live.size());
    bool ok = false;
    EXPECT_EQ(round_trip(1'000, live, ok), live);
    EXPECT_TRUE(ok);
}

// sort_keyed_hits() orders as std::sort does, for keys needing one, two and several
// 11-bit digits (the radix passes) and hits that come in time order, nearly in time order
// as a live batch's (an event's time is its request's start: overlapping requests arrive
// out of order, one long request far out of order), or in no order at all; ties of time
// broken by event id; a negative key.
TEST(RulePostings, SortKeyedHitsOrdersAsStdSort)
{
    std::mt19937_64 rng(42);
    std::vector<KeyedHit> scratch;
    const std::int64_t key_ranges[] = {
        1, 7, 2048, 2049, 300'000, std::int64_t{1} << 40, std::numeric_limits<std::int64_t>::max()};
    enum class Order { in_order, nearly, none };
    for (const std::int64_t range : key_ranges) {
        for (const Order order : {Order::in_order, Order::nearly, Order::none}) {
            std::vector<KeyedHit> hits;
            std::int64_t arrival = 1'000'000;
            for (std::int64_t id = 1; id <= 5'000; ++id) {
                arrival += static_cast<std::int64_t>(rng() % 3); // ties in time
                std::int64_t time = arrival;
                if (order == Order::nearly) {
                    time -= static_cast<std::int64_t>(rng() % 20);
                    time -= id == 4'000 ? 900'000 : 0; // a long request
                } else if (order == Order::none) {
                    time = static_cast<std::int64_t>(rng() % 1'000);
                }
                for (int k = 0; k < 3; ++k) {
                    hits.push_back(
                        {static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(range)), time,
                         id});
                }
            }
            std::vector<KeyedHit> expected = hits;
            std::sort(expected.begin(), expected.end());
            sort_keyed_hits(hits, scratch);
            EXPECT_EQ(hits, expected)
                << "keys below " << range << ", order " << static_cast<int>(order);
        }
    }
    // Equal times with the event ids out of order.
    std::vector<KeyedHit> hits{{2, 10, 5}, {1, 10, 4}, {1, 10, 3}};
    sort_keyed_hits(hits, scratch);
    EXPECT_EQ(hits, (std::vector<KeyedHit>{{1, 10, 3}, {1, 10, 4}, {2, 10, 5}}));
    // A negative key: below every other key.
    hits = {{3, 1, 1}, {-2, 2, 2}, {1, 3, 3}, {-2, 4, 4}};
    sort_keyed_hits(hits, scratch);
    EXPECT_EQ(hits, (std::vector<KeyedHit>{{-2, 2, 2}, {-2, 4, 4}, {1, 3, 3}, {3, 1, 1}}));
    hits.clear();
    sort_keyed_hits(hits, scratch);
    EXPECT_TRUE(hits.empty());
}

TEST(RulePostings, RefusesDamage)
{
    constexpr std::int64_t w = k_posting_bucket_us;
    std::string good;
    encode_posting(2, {{2 * w + 5, 10}, {2 * w + 9, 11}}, good);
    std::string next_bucket; // a first time one bucket width from the start
    encode_posting(2, {{3 * w, 10}}, next_bucket);
    struct Case {
        const char* name;
        std::int64_t bucket;
        std::string blob;
    };
    const Case cases[] = {
        {"cut in a varint", 2, good.substr(0, good.size() - 1) + "\x80"},
        {"time without an id", 2, good.substr(0, 1)},
        {"varint longer than 64 bits", 2, std::string(10, '\xff') + "\x01"},
        {"64-bit varint with a high bit too many", 2, std::string(9, '\xff') + "\x02" + "\x00"},
        {"first time outside the bucket", 2, next_bucket},
        {"a later time outside the bucket", 2, good + "\x80\xad\xe2\x04\x00"}, // +10 s
        {"a bucket whose start overflows", std::numeric_limits<std::int64_t>::max(), good},
        {"a bucket whose start underflows", std::numeric_limits<std::int64_t>::min(), good},
    };
    for (const Case& c : cases) {
        std::vector<RuleHit> out;
        EXPECT_FALSE(decode_posting(c.bucket, c.blob, out)) << c.name;
    }
    // Every mutation of a longer blob decodes or is refused; what decodes lies in the
    // bucket (ASan runs this too).
    std::vector<RuleHit> hits;
    for (int i = 0; i < 64; ++i) {
        hits.push_back({7 * w + i * 150'001, 1'000 + i * 3});
    }
    std::string blob;
    encode_posting(7, hits, blob);
    std::mt19937 rng(42);
    for (int round = 0; round < 20'000; ++round) {
        std::string bad = blob;
        for (int k = 0; k < 1 + round % 4; ++k) {
            bad[rng() % bad.size()] = static_cast<char>(rng() & 0xff);
        }
        bad.resize(rng() % (bad.size() + 1));
        std::vector<RuleHit> out;
        (void)decode_posting(7, bad, out);
        for (const RuleHit& h : out) {
            ASSERT_EQ(posting_bucket(h.time_us), 7) << round;
        }
    }
}

class RuleHits : public ::testing::Test {
protected:
    void SetUp() override
    {
        auto db = Db::open(m_dir.db(), true);
        ASSERT_TRUE(db) << db.error();
        m_db = std::move(*db);
        ASSERT_EQ(register_postings(m_db.handle()), 0);
        ASSERT_TRUE(m_db.exec("CREATE TABLE rule_postings (rule_id INTEGER NOT NULL, bucket "
                              "INTEGER NOT NULL, first_id INTEGER NOT NULL, entries BLOB NOT "
                              "NULL, PRIMARY KEY (rule_id, bucket, first_id)) WITHOUT ROWID"));
    }

    void add(std::int64_t rule, std::int64_t bucket, std::vector<RuleHit> hits)
    {
        std::sort(hits.begin(), hits.end());
        std::string blob;
        encode_posting(bucket, hits, blob);
        auto s = Stmt::prepare(m_db, "INSERT INTO rule_postings VALUES (?1, ?2, ?3, ?4)");
        ASSERT_TRUE(s);
        s->bind(1, rule);
        s->bind(2, bucket);
        s->bind(3, hits.front().event_id);
        s->bind_blob(4, blob);
        ASSERT_TRUE(s->step());
        for (const RuleHit& h : hits) {
            m_hits[rule].push_back(h);
        }
    }

    Result<std::vector<RuleHit>> query(const std::string& sql)
    {
        auto s = Stmt::prepare(m_db, sql);
        if (!s) {
            return fail(s.error());
        }
        std::vector<RuleHit> out;
        auto r = each_row(*s, [&](const Stmt& row) {
            out.push_back({row.integer(0), row.integer(1)});
        });
        if (!r) {
            return fail(r.error());
        }
        return out;
    }

    // `rule`'s hits in [since, until), newest first (later id first on a tie).
    std::vector<RuleHit> expected(std::int64_t rule, std::int64_t since, std::int64_t until)
    {
        std::vector<RuleHit> out;
        for (const RuleHit& h : m_hits[rule]) {
            if (h.time_us >= since && h.time_us < until) {
                out.push_back(h);
            }
        }
        std::sort(out.begin(), out.end(), [](const RuleHit& a, const RuleHit& b) { return b < a; });
        return out;
    }

    TempDir m_dir;
    Db m_db;
    std::map<std::int64_t, std::vector<RuleHit>> m_hits;
};

TEST_F(RuleHits, NewestFirstAcrossRowsAndBuckets)
{
    constexpr std::int64_t w = k_posting_bucket_us;
    // Rule 1: three batches, two of them in bucket 10 with interleaved times and a tie;
    // rule 2 in between must not show.
    add(1, 10, {{10 * w + 5, 1}, {10 * w + 50, 2}, {10 * w + 500, 3}});
    add(1, 10, {{10 * w + 40, 7}, {10 * w + 500, 8}});
    add(1, 12, {{12 * w, 9}, {12 * w + w - 1, 10}});
    add(2, 11, {{11 * w, 4}});
    add(1, 3, {{3 * w + 1, 11}}); // an import of older times, written last
    const std::int64_t lo = std::numeric_limits<std::int64_t>::min();
    const std::int64_t hi = std::numeric_limits<std::int64_t>::max();
    const std::vector<RuleHit> all = expected(1, lo, hi);
    struct Case {
        const char* name;
        std::string sql;
        std::vector<RuleHit> want;
    };
    const Case cases[] = {
        {"whole", "SELECT time_us, event_id FROM mso_rule_hits(1)", expected(1, lo, hi)},
        {"window inside buckets",
         "SELECT time_us, event_id FROM mso_rule_hits(1, " + std::to_string(10 * w + 40) + ", " +
             std::to_string(12 * w + 1) + ")",
         expected(1, 10 * w + 40, 12 * w + 1)},
        {"ORDER BY consumed, LIMIT",
         "SELECT time_us, event_id FROM mso_rule_hits r WHERE r.rule_id = 1 ORDER BY time_us DESC, "
         "event_id DESC LIMIT 3",
         std::vector<RuleHit>(all.begin(), all.begin() + 3)},
        {"other rule", "SELECT time_us, event_id FROM mso_rule_hits(2)", expected(2, lo, hi)},
        {"unknown rule", "SELECT time_us, event_id FROM mso_rule_hits(3)", {}},
        {"empty window", "SELECT time_us, event_id FROM mso_rule_hits(1, 5, 5)", {}},
        {"NULL ends: unbounded", "SELECT time_us, event_id FROM mso_rule_hits(1, NULL, NULL)",
         expected(1, lo, hi)},
        {"NULL rule", "SELECT time_us, event_id FROM mso_rule_hits(NULL)", {}},
    };
    for (const Case& c : cases) {
        auto got = query(c.sql);
        ASSERT_TRUE(got) << c.name << ": " << got.error();
        EXPECT_EQ(*got, c.want) << c.name;
    }
    EXPECT_EQ(all.size(), 8U);
    // The walk yields that order itself: SQLite sorts nothing (a LIMIT stops it early).
    auto plan = Stmt::prepare(m_db, "EXPLAIN QUERY PLAN SELECT time_us, event_id FROM "
                                    "mso_rule_hits(1) ORDER BY time_us DESC, event_id DESC");
    ASSERT_TRUE(plan);
    std::string steps;
    while (*plan->step()) {
        steps += std::string(plan->text(3)) + "; ";
    }
    EXPECT_EQ(steps.find("ORDER BY"), std::string::npos) << steps;
    EXPECT_NE(steps.find("mso_rule_hits"), std::string::npos) << steps;
    // Without a rule there is no plan: an error, not a scan of every rule.
    EXPECT_FALSE(query("SELECT time_us FROM mso_rule_hits"));
}

TEST_F(RuleHits, ADamagedRowIsAnErrorNotACrash)
{
    add(1, 10, {{10 * k_posting_bucket_us + 5, 1}});
    ASSERT_TRUE(m_db.exec("INSERT INTO rule_postings VALUES (1, 9, 0, x'ffffffff')"));
    auto got = query("SELECT time_us, event_id FROM mso_rule_hits(1)");
    ASSERT_FALSE(got);
    EXPECT_NE(got.error().find("does not decode"), std::string::npos) << got.error();
}

} // namespace
} // namespace mso
