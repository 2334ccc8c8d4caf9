// History store benchmark: how fast the store takes flagged 5-finding events on one core,
// how many bytes each costs on disk, and how long a filtered search page, a find by
// unique id and a 7-day time series take once it holds N events. The events are
// synthetic but shaped like CRS 4 output: 20 vhosts (skewed), 5,000 clients, 50 user
// agents, 30 rules with their real messages and tags, matched data cut at 32 bytes
// (ModSecObserveMatchedData truncate:32), unique ids as mod_unique_id makes them, spread
// over 7 days. CPU time comes from getrusage (the machine is shared; wall time is shown
// too).
//
// Usage: store_bench [--events N] [--batch N] [--cache-mib N] [--insert-only] [--dir DIR]
//                    [--keep] [--reuse] [--rate N] [--recent-client-rows N]
//                    [--request-ms N]                                           (Markdown)
//   --events N  how many events to insert (default 1,000,000; 10,000,000 for the targets
//               "over 10 million stored events": about 6 GB and 10-20 minutes of CPU)
//   --batch N   events per write_batch (default 32,768, as StoreWriter's batch_events)
//   --cache-mib N  the writer's page cache (default HistoryOptions' cache_kib)
//   --recent-client-rows N  client posting rows held in client_postings_recent before
//               they move (default HistoryOptions'; 1 moves them at every batch)
//   --insert-only  stop after the insert measures (no queries)
//   --rate N    the events' times as a stream of N events/s (a batch then falls in few
//               minutes, as a live stream's does) instead of spread over 7 days; the
//               queries assume 7 days: use it with --insert-only
//   --request-ms N  each event's time is its request's start, up to N ms (1 in 100: up
//               to 100 N ms) before the event's place in the stream, so that events
//               arrive out of time order where requests overlap, as the module sends them
//               (at a request's end, with its start time); default 0: in time order.
//               It draws one more random number per event, so the events differ too
//   --keep      leave the database in DIR; --reuse: measure the queries on a database
//               kept by an earlier run (of the same --events, --rate and --request-ms)
//               without inserting
#include "store/history_store.h"
#include "store/store_writer.h"
#include "unique_ids.h"

#include <sys/resource.h>

#include <cstdlib>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using mso::StoredEvent;

double cpu_seconds()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Rng {
    std::uint64_t s;
    std::uint64_t next()
    {
        std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30U)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27U)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31U);
    }
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
    // Skewed toward 0: a few vhosts and rules take most events.
    std::size_t skewed(std::size_t n) { return std::min(below(n), below(n)); }
};

struct Rule {
    const char* id;
    const char* msg;
    const char* severity;
    int pl;
    const char* attack;
};

constexpr std::array<Rule, 30> k_rules{{
    {"942100", "SQL Injection Attack Detected via libinjection", "CRITICAL", 1, "sqli"},
    {"942110", "SQL Injection Attack: Common Injection Testing Detected", "WARNING", 2, "sqli"},
    {"942190", "Detects MSSQL code execution and information gathering attempts", "CRITICAL", 1,
     "sqli"},
    {"942200", "Detects MySQL comment-/space-obfuscated injections and backtick termination",
     "CRITICAL", 2, "sqli"},
    {"942260", "Detects basic SQL authentication bypass attempts 2/3", "CRITICAL", 2, "sqli"},
    {"942340", "Detects basic SQL authentication bypass attempts 3/3", "CRITICAL", 2, "sqli"},
    {"942370", "Detects classic SQL injection probings 2/3", "CRITICAL", 2, "sqli"},
    {"942430",
     "Restricted SQL Character Anomaly Detection (args): # of special characters exceeded (12)",
     "WARNING", 2, "sqli"},
    {"941100", "XSS Attack Detected via libinjection", "CRITICAL", 1, "xss"},
    {"941110", "XSS Filter - Category 1: Script Tag Vector", "CRITICAL", 1, "xss"},
    {"941160", "NoScript XSS InjectionChecker: HTML Injection", "CRITICAL", 1, "xss"},
    {"930100", "Path Traversal Attack (/../) or (/.../)", "CRITICAL", 1, "lfi"},
    {"930110", "Path Traversal Attack (/../) or (/.../)", "CRITICAL", 1, "lfi"},
    {"930120", "OS File Access Attempt", "CRITICAL", 1, "lfi"},
    {"932100", "Remote Command Execution: Unix Command Injection", "CRITICAL", 1, "rce"},
    {"932160", "Remote Command Execution: Unix Shell Code Found", "CRITICAL", 1, "rce"},
    {"933100", "PHP Injection Attack: PHP Open Tag Found", "CRITICAL", 1, "php"},
    {"913100", "Found User-Agent associated with security scanner", "CRITICAL", 1,
     "reputation-scanner"},
    {"920350", "Host header is a numeric IP address", "WARNING", 1, "protocol"},
    {"920420", "Request content type is not allowed by policy", "CRITICAL", 1, "protocol"},
    {"920440", "URL file extension is restricted by policy", "CRITICAL", 1, "protocol"},
    {"920270", "Invalid character in request (null character)", "CRITICAL", 1, "protocol"},
    {"921130", "HTTP Response Splitting Attack", "CRITICAL", 1, "protocol"},
    {"931100", "Possible Remote File Inclusion (RFI) Attack: URL Parameter using IP Address",
     "CRITICAL", 1, "rfi"},
    {"934100", "Node.js Injection Attack 1/2", "CRITICAL", 1, "injection-generic"},
    {"943120", "Possible Session Fixation Attack: SessionID Parameter Name with No Referer",
     "CRITICAL", 1, "fixation"},
    {"944100", "Remote Command Execution: Suspicious Java class detected", "CRITICAL", 1, "rce"},
    {"951220", "mssql SQL Information Leakage", "CRITICAL", 1, "disclosure"},
    {"953100", "PHP Information Leakage", "ERROR", 1, "disclosure"},
    {"920230", "Multiple URL Encoding Detected", "WARNING", 2, "protocol"},
}};

std::string random_text(Rng& rng, std::size_t n)
{
    static constexpr char k_chars[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789' =()-<>/;";
    std::string s(n, ' ');
    for (auto& c : s) {
        c = k_chars[rng.below(sizeof(k_chars) - 1)];
    }
    return s;
}

StoredEvent make_event(Rng& rng, std::int64_t time_us)
{
    StoredEvent s;
    s.source = rng.below(10) == 0 ? "import:access-2024" : "module";
    s.engine_mode = rng.below(2) == 0 ? mso::EngineMode::on : mso::EngineMode::detection_only;
    mso::RequestEvent& e = s.event;
    e.time_us = time_us;
    e.vhost = "site" + std::to_string(rng.skewed(20)) + ".example.com";
    e.port = 443;
    const std::size_t child = rng.below(bench::k_children);
    e.unique_id = bench::apache_unique_id(time_us, child, static_cast<std::uint32_t>(rng.next()));
    e.client = "198.51." + std::to_string(rng.below(20)) + "." + std::to_string(rng.below(250));
    e.method = rng.below(5) == 0 ? "POST" : "GET";
    e.path = "/shop/product/" + std::to_string(rng.below(100'000));
    e.query = "q=" + random_text(rng, 12);
    e.status = rng.below(4) == 0 ? 403 : 200;
    e.protocol = "HTTP/1.1";
    e.user_agent = "Mozilla/5.0 (X11; Linux x86_64; rv:" + std::to_string(rng.below(50)) +
                   ".0) Gecko/20100101 Firefox/115.0";
    e.intercepted = e.status == 403 && s.engine_mode == mso::EngineMode::on;
    e.phase = 2;
    mso::AnomalyScores sc;
    sc.inbound = static_cast<int>(15 + rng.below(20));
    sc.inbound_pl = {sc.inbound, 0, 0, 0};
    sc.inbound_threshold = 5;
    sc.outbound_threshold = 4;
    sc.blocking_pl = 1;
    sc.detection_pl = 1;
    e.scores = sc;
    for (int i = 0; i < 4; ++i) {
        const Rule& r = k_rules[rng.skewed(k_rules.size())];
        mso::Finding f;
        f.id = r.id;
        f.msg = r.msg;
        f.severity = r.severity;
        f.paranoia_level = r.pl;
        f.phase = 2;
        f.tags = {"application-multi",
                  "language-multi",
                  "platform-multi",
                  std::string("attack-") + r.attack,
                  "paranoia-level/" + std::to_string(r.pl),
                  "OWASP_CRS",
                  "capec/1000/152/248/66",
                  "PCI/6.5.2"};
        f.target = rng.below(2) == 0 ? "ARGS:q" : "REQUEST_COOKIES:session";
        f.data = "Matched Data: " + random_text(rng, 18); // 32 bytes, as truncate:32
        f.data_truncated = true;
        e.findings.push_back(std::move(f));
    }
    mso::Finding sum;
    sum.id = "949110";
    sum.msg = "Inbound Anomaly Score Exceeded (Total Score: " + std::to_string(sc.inbound) + ")";
    sum.severity = "CRITICAL";
    sum.phase = 2;
    sum.tags = {"anomaly-evaluation", "OWASP_CRS"};
    sum.target = "TX:BLOCKING_INBOUND_ANOMALY_SCORE";
    sum.intercepted = e.intercepted;
    e.findings.push_back(std::move(sum));
    return s;
}

struct Timing {
    double median_ms;
    double max_ms;
};

template <typename F> Timing measure(int runs, F&& f)
{
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) {
        const auto t0 = Clock::now();
        f(i);
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    return {ms[ms.size() / 2], ms.back()};
}

void check(bool ok, const std::string& what)
{
    if (!ok) {
        std::fprintf(stderr, "store_bench: %s\n", what.c_str());
        std::exit(1);
    }
}

} // namespace

int main(int argc, char** argv)
{
    std::size_t events = 1'000'000;
    std::string dir = "/tmp/mso-store-bench";
    bool keep = false;
    bool reuse = false;
    std::size_t batch_size = mso::StoreWriterOptions{}.batch_events;
    int cache_kib = mso::HistoryOptions{}.cache_kib;
    std::int64_t recent_client_rows = mso::HistoryOptions{}.recent_client_rows;
    bool insert_only = false;
    double rate = 0;
    std::int64_t request_ms = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--events" && i + 1 < argc) {
            events = std::stoul(argv[++i]);
        } else if (a == "--dir" && i + 1 < argc) {
            dir = argv[++i];
        } else if (a == "--keep") {
            keep = true;
        } else if (a == "--batch" && i + 1 < argc) {
            batch_size = std::max<std::size_t>(std::stoul(argv[++i]), 1);
        } else if (a == "--cache-mib" && i + 1 < argc) {
            cache_kib = std::stoi(argv[++i]) * 1024;
        } else if (a == "--recent-client-rows" && i + 1 < argc) {
            recent_client_rows = std::stoll(argv[++i]);
        } else if (a == "--rate" && i + 1 < argc) {
            rate = std::stod(argv[++i]);
        } else if (a == "--insert-only") {
            insert_only = true;
        } else if (a == "--reuse") {
            reuse = keep = true;
        } else if (a == "--request-ms" && i + 1 < argc) {
            request_ms = std::stoll(argv[++i]);
            if (request_ms < 0 || request_ms > 3'600'000) {
                std::fprintf(stderr, "store_bench: --request-ms takes 0 to 3600000 (an hour)\n");
                return 2;
            }
        } else {
            std::fprintf(stderr, "store_bench: unknown argument or missing value: %s\n", a.c_str());
            return 2;
        }
    }
    std::filesystem::create_directories(dir);
    const std::string path = dir + "/history.db";
    for (const char* suffix : {"", "-wal", "-shm"}) {
        if (!reuse) {
            std::filesystem::remove(path + suffix);
        }
    }
    std::array<double, 3> load{};
    check(getloadavg(load.data(), 3) == 3, "no load average");
    std::printf("Load average at the start: %.2f %.2f %.2f\n\n", load[0], load[1], load[2]);
    const double open_cpu = cpu_seconds();
    const auto open_wall = Clock::now();
    auto store = mso::HistoryStore::open(path, [&] {
        mso::HistoryOptions o;
        o.check_integrity = !reuse; // quick_check reads the whole file
        o.cache_kib = cache_kib;
        o.recent_client_rows = recent_client_rows;
        return o;
    }());
    check(store.has_value(), store.error());
    // With --reuse on a file of an older schema version, this is the migrations' time.
    std::printf("Opened in %.1f ms of wall time, %.1f ms of CPU time%s\n\n",
                std::chrono::duration<double, std::milli>(Clock::now() - open_wall).count(),
                (cpu_seconds() - open_cpu) * 1e3,
                store->open_report().migrated_from > 0
                    ? (", migrated from schema version " +
                       std::to_string(store->open_report().migrated_from))
                          .c_str()
                    : "");

    const std::int64_t week_us = 7LL * 86'400'000'000LL;
    const std::int64_t start_us = 1'700'000'000'000'000LL;
    const std::int64_t end_us = start_us + week_us;
    const double span_us =
        rate > 0 ? static_cast<double>(events) / rate * 1e6 : static_cast<double>(week_us);
    Rng rng{42};
    std::vector<std::string> uids;
    double insert_cpu = 0;
    double insert_wall = 0;
    std::vector<StoredEvent> batch;
    // The rate of the last tenth: what a store already holding 0.9 N events takes.
    double last_tenth_cpu = 0;
    std::size_t last_tenth = 0;
    // With --reuse, the events already stored (a run stopped early keeps fewer than N, laid
    // out in time as N would be): the same generator yields their unique ids again.
    std::size_t stored = events;
    if (reuse) {
        auto n = store->event_count();
        check(n.has_value(), n.error());
        stored = std::min(events, static_cast<std::size_t>(*n));
    }
    for (std::size_t done = 0; done < stored;) {
        batch.clear();
        for (std::size_t i = 0; i < batch_size && done + i < stored; ++i) {
            auto t = start_us + static_cast<std::int64_t>(static_cast<double>(done + i) /
                                                          static_cast<double>(events) * span_us);
            if (request_ms > 0) { // the request started before its event arrived
                const std::uint64_t r = rng.next();
                const auto longest_us =
                    static_cast<std::uint64_t>(request_ms) * (r % 100 == 0 ? 100'000 : 1'000);
                t -= static_cast<std::int64_t>((r >> 8U) % longest_us);
            }
            batch.push_back(make_event(rng, t));
            if ((done + i) % 997 == 0) {
                uids.push_back(batch.back().event.unique_id);
            }
        }
        const double c0 = cpu_seconds();
        const auto t0 = Clock::now();
        if (reuse) { // same events, same unique ids, nothing written
            done += batch.size();
            continue;
        }
        auto r = store->write_batch(batch);
        insert_wall += std::chrono::duration<double>(Clock::now() - t0).count();
        insert_cpu += cpu_seconds() - c0;
        if (done >= events - events / 10) {
            last_tenth_cpu += cpu_seconds() - c0;
            last_tenth += batch.size();
        }
        check(r.has_value(), r.error());
        const std::size_t tenth = std::max<std::size_t>(events / 10, 1);
        if ((done + batch.size()) / tenth != done / tenth) { // progress, for long runs
            check(getloadavg(load.data(), 3) == 3, "no load average");
            std::fprintf(stderr, "%zu events, %.0f events/s of CPU so far, load %.2f\n",
                         done + batch.size(), static_cast<double>(done + batch.size()) / insert_cpu,
                         load[0]);
        }
        done += batch.size();
    }
    auto size = store->size();
    check(size.has_value(), size.error());
    std::printf("## History store, %zu flagged events (5 findings each, data cut at 32 bytes)\n\n",
                stored);
    std::printf("| measure | value |\n|---|---|\n");
    std::printf("| client posting rows held before they move | %lld |\n",
                static_cast<long long>(recent_client_rows));
    if (!reuse) {
        std::string times;
        if (rate > 0) {
            times += ", times at " + std::to_string(static_cast<long>(rate)) + "/s";
        }
        if (request_ms > 0) {
            times += ", requests up to " + std::to_string(request_ms) +
                     " ms (1 in 100: " + std::to_string(request_ms * 100) + " ms) before";
        }
        std::printf("| insert, events/s of CPU time (batches of %zu%s) | %.0f |\n", batch_size,
                    times.c_str(), static_cast<double>(events) / insert_cpu);
        std::printf("| insert, events/s of CPU time, the last tenth | %.0f |\n",
                    static_cast<double>(last_tenth) / last_tenth_cpu);
        std::printf("| insert, events/s of wall time | %.0f |\n",
                    static_cast<double>(events) / insert_wall);
    }
    std::printf("| bytes on disk per event (used pages) | %.0f |\n",
                static_cast<double>(size->used_bytes()) / static_cast<double>(stored));
    std::printf("| database file | %.1f MB |\n", static_cast<double>(size->file_bytes()) / 1e6);
    if (insert_only) {
        check(getloadavg(load.data(), 3) == 3, "no load average");
        std::printf("\nLoad average at the end: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
        if (!keep) {
            for (const char* suffix : {"", "-wal", "-shm"}) {
                std::filesystem::remove(path + suffix);
            }
        }
        return 0;
    }

    auto reader = mso::HistoryStore::open(path, [] {
        mso::HistoryOptions o;
        o.read_only = true;
        return o;
    }());
    check(reader.has_value(), reader.error());
    std::printf(
        "\n| query (read-only connection) | median ms | max ms | events |\n|---|---|---|---|\n");
    struct Case {
        const char* name;
        mso::HistoryQuery q;
    };
    auto q = [](auto&& set) {
        mso::HistoryQuery h;
        set(h);
        return h;
    };
    const std::int64_t mid = start_us + week_us / 2;
    const std::vector<Case> cases{
        {"newest page, no filter", q([](auto&) {})},
        {"--vhost (busiest)", q([](auto& h) { h.vhost = "site0.example.com"; })},
        {"--vhost (rarest)", q([](auto& h) { h.vhost = "site19.example.com"; })},
        {"--rule (common)", q([](auto& h) { h.rule = "942100"; })},
        {"--rule (rare)", q([](auto& h) { h.rule = "920230"; })},
        {"--rule + --vhost", q([](auto& h) {
             h.rule = "941110";
             h.vhost = "site7.example.com";
         })},
        {"--client", q([](auto& h) { h.client = "198.51.7.77"; })},
        {"--status 403", q([](auto& h) { h.status = 403; })},
        {"--intercepted", q([](auto& h) { h.intercepted = true; })},
        {"--would-block", q([](auto& h) { h.would_block = true; })},
        {"--engine detection-only",
         q([](auto& h) { h.engine_mode = mso::EngineMode::detection_only; })},
        {"--source import:access-2024", q([](auto& h) { h.source = "import:access-2024"; })},
        {"--path /shop/product/4242", q([](auto& h) { h.path_prefix = "/shop/product/4242"; })},
        {"--path /shop/ (common prefix)", q([](auto& h) { h.path_prefix = "/shop/"; })},
        {"--path /shop/product/4242 --window 1 h", q([&](auto& h) {
             h.path_prefix = "/shop/product/4242";
             h.since_us = end_us - 3'600'000'000LL;
         })},
        {"--grep libinjection", q([](auto& h) { h.grep = "libinjection"; })},
        {"--grep xyz (data)", q([](auto& h) { h.grep = "xyz"; })},
        {"--grep xyz --window 1 h", q([&](auto& h) {
             h.grep = "xyz";
             h.since_us = end_us - 3'600'000'000LL;
         })},
        {"--grep xyz --vhost (rarest)", q([](auto& h) {
             h.grep = "xyz";
             h.vhost = "site19.example.com";
         })},
        {"--since/--until 1 h, mid-week", q([&](auto& h) {
             h.since_us = mid;
             h.until_us = mid + 3'600'000'000LL;
         })},
        {"--vhost --client --window 1 d", q([&](auto& h) {
             h.vhost = "site3.example.com";
             h.client = "198.51.3.33";
             h.since_us = end_us - 86'400'000'000LL;
         })},
    };
    for (const auto& c : cases) {
        std::size_t n = 0;
        auto t = measure(9, [&](int) {
            auto page = reader->search(c.q);
            check(page.has_value(), page.error());
            n = page->events.size();
        });
        std::printf("| %s | %.2f | %.2f | %zu |\n", c.name, t.median_ms, t.max_ms, n);
    }
    {
        auto first = reader->search(q([](auto& h) { h.vhost = "site5.example.com"; }));
        check(first.has_value() && first->next.has_value(), "no second page");
        auto t = measure(9, [&](int) {
            auto page = reader->search(q([&](auto& h) {
                h.vhost = "site5.example.com";
                h.after = first->next;
            }));
            check(page.has_value(), page.error());
        });
        std::printf("| --vhost, page 2 (cursor) | %.2f | %.2f | 50 |\n", t.median_ms, t.max_ms);
    }
    auto t = measure(static_cast<int>(std::min<std::size_t>(uids.size(), 500)), [&](int i) {
        auto e = reader->find(uids[static_cast<std::size_t>(i)]);
        check(e.has_value() && e->has_value(), "find failed");
    });
    std::printf("| find UNIQUE_ID | %.3f | %.3f | 1 |\n", t.median_ms, t.max_ms);
    struct Series {
        const char* name;
        std::optional<std::string> vhost;
        std::optional<std::string> rule;
        std::int64_t since;
        std::int64_t step;
    };
    const std::vector<Series> series{
        {"timeseries 7 d, 1 h steps", std::nullopt, std::nullopt, start_us, 3600},
        {"timeseries 7 d, 1 h, --vhost", "site2.example.com", std::nullopt, start_us, 3600},
        {"timeseries 7 d, 1 h, --rule", std::nullopt, "942100", start_us, 3600},
        {"timeseries 7 d, 1 min steps", std::nullopt, std::nullopt, start_us, 60},
        {"timeseries 1 h, 10 s steps (from events)", std::nullopt, std::nullopt,
         end_us - 3'600'000'000LL, 10},
    };
    for (const auto& s : series) {
        std::size_t n = 0;
        const std::int64_t since = s.since - s.since % 60'000'000;
        const std::int64_t until = end_us - end_us % 60'000'000 + 60'000'000;
        auto ts = measure(5, [&](int) {
            auto rows = reader->timeseries(s.vhost, s.rule, since, until, s.step);
            check(rows.has_value(), rows.error());
            n = rows->size();
        });
        std::printf("| %s | %.2f | %.2f | %zu buckets |\n", s.name, ts.median_ms, ts.max_ms, n);
    }
    // Aggregates over long windows (rules, stats, top from history).
    const std::int64_t day_us = 86'400'000'000LL;
    struct Aggregate {
        const char* name;
        int runs;
        std::function<std::size_t()> run;
    };
    auto rows = [&](auto r) {
        check(r.has_value(), r.error());
        return r->size();
    };
    const std::optional<std::string> busy = "site0.example.com";
    const std::optional<std::string> all;
    const std::int64_t off = 1'234'567; // not on a minute: partial minutes at both ends
    const std::vector<Aggregate> aggregates{
        {"rule_counts 7 d", 5, [&] { return rows(reader->rule_counts(all, start_us, end_us, 0)); }},
        {"rule_counts 7 d, off-minute ends", 5,
         [&] { return rows(reader->rule_counts(all, start_us + off, end_us - off, 0)); }},
        {"rule_counts 7 d, --vhost", 5,
         [&] { return rows(reader->rule_counts(busy, start_us, end_us, 0)); }},
        {"vhost_totals 7 d", 5, [&] { return rows(reader->vhost_totals(start_us, end_us)); }},
        {"vhost_totals 7 d, off-minute ends", 5,
         [&] { return rows(reader->vhost_totals(start_us + off, end_us - off)); }},
        {"top clients 1 h", 3,
         [&] {
             return rows(
                 reader->top(mso::HistoryList::clients, all, end_us - 3'600'000'000LL, end_us, 20));
         }},
        {"top clients 1 d", 1,
         [&] {
             return rows(reader->top(mso::HistoryList::clients, all, end_us - day_us, end_us, 20));
         }},
        {"top clients 7 d", 1,
         [&] { return rows(reader->top(mso::HistoryList::clients, all, start_us, end_us, 20)); }},
        {"top clients 7 d, --vhost (rarest)", 1,
         [&] {
             return rows(reader->top(mso::HistoryList::clients, "site19.example.com", start_us,
                                     end_us, 20));
         }},
        {"top paths 7 d", 1,
         [&] { return rows(reader->top(mso::HistoryList::paths, all, start_us, end_us, 20)); }},
        {"top agents 7 d", 1,
         [&] { return rows(reader->top(mso::HistoryList::agents, all, start_us, end_us, 20)); }},
        {"top targets 7 d", 1,
         [&] { return rows(reader->top(mso::HistoryList::targets, all, start_us, end_us, 20)); }},
    };
    std::printf("\n| aggregate (read-only connection) | median ms | max ms | rows |\n"
                "|---|---|---|---|\n");
    for (const auto& a : aggregates) {
        std::size_t n = 0;
        auto ta = measure(a.runs, [&](int) { n = a.run(); });
        std::printf("| %s | %.1f | %.1f | %zu |\n", a.name, ta.median_ms, ta.max_ms, n);
        std::fflush(stdout);
    }
    check(getloadavg(load.data(), 3) == 3, "no load average");
    std::printf("\nLoad average at the end: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
    if (!keep) {
        for (const char* suffix : {"", "-wal", "-shm"}) {
            std::filesystem::remove(path + suffix);
        }
    }
    return 0;
}
