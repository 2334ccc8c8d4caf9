// Collector benchmark: how fast modsec-observed ingests events on one core, what memory
// it holds as vhosts and distinct clients grow, and how long queries take. It drives the
// same code the daemon runs (Collector::ingest: decode + aggregate + ring, then
// answer_query) with realistic datagrams: the module's own encoder fed with real CRS 4
// messages captured from Apache (tests/data), several findings per event, and clean
// events (no finding, as ModSecObserveEvents all sends every request). CPU time comes
// from getrusage (--history: the thread and process CPU clocks), so a busy machine slows
// the wall clock more than the CPU figures.
//
// With --history, only the ingest rate with the history store on and off: the same
// flagged events ingested without a store and with a StoreWriter taking each event as
// Server::store offers it (the daemon with and without --no-history), paced (the writer
// keeping up) and unpaced (the writer behind): history_on_off().
//
// With --v2 after the mode, the datagrams are protocol version 2 (the alerts raw, parsed
// by the collector: docs/protocol.md, section 1.3) instead of version 1.
//
// Usage: collector_bench DATA_DIR [--quick | --history | --ingest-only | --flagged VHOSTS] [--v2]
//   (prints Markdown tables; --flagged VHOSTS: the ingest table's flagged row of that
//   many vhosts alone, 1, 100 or 1000, for a profiler to see that row and nothing else)
#include "captured_alerts.h"
#include "cpu_time.h"
#include "unique_ids.h"
#include "daemon/datagram_batch.h"
#include "state/collector.h"
#include "store/history_store.h"
#include "store/store_writer.h"
#include "event_encoder.h"
#include "modsec_message.h"
#include "state/query_answer.h"

#include <cmath>
#include <malloc.h>
#ifdef MSO_WITH_JEMALLOC
#include <jemalloc/jemalloc.h>
#define MSO_STRINGIFY_(x) #x
#define MSO_STRINGIFY(x) MSO_STRINGIFY_(x)
#endif
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using mso::bench::clock_cpu_seconds;
using mso::bench::cpu_seconds;

using Clock = std::chrono::steady_clock;

// --v2: encode the datagrams as protocol version 2.
bool g_protocol2 = false;

struct Workload {
    std::vector<std::string> datagrams;
    double findings_per_event = 0;
};

// `count` datagrams over `vhosts` vhosts and `clients` distinct client addresses,
// numbered from `first` (so that consecutive chunks continue the same sequence).
// `clean`: requests without findings (score 0), as in ModSecObserveEvents all mode.
Workload make_workload(const std::vector<std::vector<std::string>>& requests, std::size_t count,
                       std::size_t vhosts, std::size_t clients, std::size_t first = 0,
                       bool clean = false)
{
    Workload w;
    std::string buffer(mso::k_max_datagram_bytes, '\0');
    mso::AnomalyScores scores = mso::bench::flagged_scores();
    if (clean) {
        scores.inbound = 0;
        scores.inbound_pl = {0, 0, 0, 0};
    }
    std::size_t findings = 0;
    for (std::size_t i = first; i < first + count; ++i) {
        const auto& messages = requests[i % requests.size()];
        std::vector<std::string_view> views(messages.begin(), messages.end());
        const std::string vhost = "vhost" + std::to_string(i % vhosts) + ".example";
        // A permutation of 0..clients-1 as i runs over it (for client counts coprime to
        // the multiplier, as 10^k are): every address appears once per `clients` events.
        const std::size_t c = (i * 2654435761u) % clients;
        const std::string client = std::to_string(10 + c / 16777216 % 200) + "." +
                                   std::to_string(c / 65536 % 256) + "." +
                                   std::to_string(c / 256 % 256) + "." + std::to_string(c % 256);
        const std::string path = "/app/page" + std::to_string(i % 500);
        // Named: the record holds string_views (a temporary here left them dangling, so
        // the ids were whatever the stack held; the history store saw them repeat).
        // Shaped as mod_unique_id's, as the store keys them by their second.
        const std::int64_t time_us = 1763739600000000 + static_cast<std::int64_t>(i);
        const std::string unique_id =
            bench::apache_unique_id(time_us, i, static_cast<std::uint32_t>(i));
        mso::RequestRecord r;
        r.time_us = time_us;
        r.vhost = vhost;
        r.port = 443;
        r.unique_id = unique_id;
        r.client = client;
        r.method = "GET";
        r.path = path;
        r.status = clean ? 200 : 403;
        r.protocol = "HTTP/1.1";
        r.user_agent = "Mozilla/5.0 (bench)";
        r.scores = &scores;
        const auto encode = g_protocol2 ? mso::encode_request_event_v2 : mso::encode_request_event;
        const auto enc =
            encode(r, views.data(), clean ? 0 : views.size(), 0, {}, buffer.data(), buffer.size());
        findings += enc.findings; // version 2: the messages sent, nearly all alerts
        w.datagrams.emplace_back(buffer.data(), enc.size);
    }
    w.findings_per_event = static_cast<double>(findings) / static_cast<double>(count);
    return w;
}

// Heap bytes in use, in MiB: unlike RSS, not hidden by memory that earlier phases freed
// and the allocator kept. From the allocator the bench is linked with (mso_allocator).
double heap_mib()
{
#ifdef MSO_WITH_JEMALLOC
    std::uint64_t epoch = 1; // jemalloc's statistics are refreshed by writing the epoch
    std::size_t size = sizeof(epoch);
    (void)mallctl("epoch", &epoch, &size, &epoch, size);
    std::size_t allocated = 0;
    size = sizeof(allocated);
    if (mallctl("stats.allocated", &allocated, &size, nullptr, 0) != 0) {
        return std::nan("");
    }
    return static_cast<double>(allocated) / (1024.0 * 1024.0);
#else
    return static_cast<double>(mallinfo2().uordblks) / (1024.0 * 1024.0);
#endif
}

// Gives memory the allocator keeps after frees back to the system, so that RSS growth
// counts what is held.
void release_free_memory()
{
#ifdef MSO_WITH_JEMALLOC
    (void)mallctl("arena." MSO_STRINGIFY(MALLCTL_ARENAS_ALL) ".purge", nullptr, nullptr, nullptr,
                  0);
#else
    malloc_trim(0);
#endif
}

// Resident set size now, in MiB (/proc/self/statm).
double rss_mib()
{
    long pages = 0;
    if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
        long size = 0;
        if (std::fscanf(f, "%ld %ld", &size, &pages) != 2) {
            pages = 0;
        }
        std::fclose(f);
    }
    return static_cast<double>(pages) * static_cast<double>(sysconf(_SC_PAGESIZE)) /
           (1024.0 * 1024.0);
}

double seconds_since(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// Median of `runs` timings of `query` in microseconds.
double query_us(mso::Collector& c, const std::string& query, int runs)
{
    std::vector<double> t;
    for (int i = 0; i < runs; ++i) {
        const auto start = Clock::now();
        const std::string answer = mso::answer_query(query, c, Clock::now(), 1763739600);
        t.push_back(seconds_since(start) * 1e6);
        if (answer.size() < 10) {
            std::fprintf(stderr, "unexpected answer: %s\n", answer.c_str());
        }
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

// 200000 -> "200,000", as the table headings write counts.
std::string with_thousands(std::size_t n)
{
    // Built forward (GCC 12's -Wrestrict misreads an insert() loop once inlined).
    const std::string digits = std::to_string(n);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) {
            out += ',';
        }
        out += digits[i];
    }
    return out;
}

// Ingest of the flagged mix with the history store off and on (as the daemon with and
// without --no-history), in two regimes, each side by side:
// - paced: the events at k_paced_rate a second (the loop sleeps between slices), below
//   what the writer inserts, so it keeps up, committing a batch every 250 ms while the
//   loop goes on, as with a live stream;
// - unpaced: chunks of 50,000 as fast as the loop goes, a flush after each: a burst the
//   writer falls behind on (its queue holds up to 50,000 events).
// The ingesting thread's CPU is what the daemon's loop spends (the writer has its own
// thread, on another core when there is one); the process's (the loop plus the other
// threads, measured after the writer committed everything) is the one-core cost.
// Nothing is refused: every event is stored (checked). Within a run, off comes before on.
// Paced slices that end behind their schedule are counted and printed: they ran unpaced.
constexpr double k_paced_rate = 25000;

int history_on_off(const std::vector<std::vector<std::string>>& requests, std::size_t n)
{
    std::array<double, 3> load{};
    (void)getloadavg(load.data(), 3);
    std::printf("## Ingest with the history store off and on (flagged, 100 vhosts, 10,000 "
                "clients, %s events; load average %.2f at the start)\n\n",
                with_thousands(n).c_str(), load[0]);
    std::printf("| history | pace | loop CPU µs/event | loop events/s | process CPU µs/event | "
                "process events/s | stored |\n");
    std::printf("| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
    const std::string dir = "/tmp/mso-collector-bench-history";
    const std::size_t chunk = 50000;
    constexpr std::size_t slice = 250; // paced: 10 ms of events between sleeps
    struct Run {
        bool history;
        bool paced;
    };
    constexpr std::array<Run, 4> runs{{{false, true}, {true, true}, {false, false}, {true, false}}};
    std::array<double, 4> loop_us{};
    std::array<double, 4> process_us{};
    std::size_t slices = 0;
    std::size_t late = 0;
    {
        // Untimed: the first run of a process would otherwise pay for faulting in the heap.
        const Workload w = make_workload(requests, chunk, 100, 10000, 0);
        mso::Collector warm;
        for (std::size_t i = 0; i < w.datagrams.size(); ++i) {
            (void)warm.ingest(w.datagrams[i], 1763739600 + static_cast<std::int64_t>(i / 2000));
        }
    }
    for (std::size_t r = 0; r < runs.size(); ++r) {
        const auto [history, paced] = runs[r];
        std::filesystem::remove_all(dir);
        std::filesystem::create_directories(dir);
        std::optional<mso::StoreWriter> writer;
        if (history) {
            auto store = mso::HistoryStore::open(dir + "/history.db", mso::HistoryOptions{});
            if (!store) {
                std::fprintf(stderr, "history: %s\n", store.error().c_str());
                return 1;
            }
            writer.emplace(std::move(*store), mso::StoreWriterOptions{});
        }
        mso::Collector collector;
        double loop_cpu = 0;
        const double process_cpu = clock_cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
        const double main_cpu = clock_cpu_seconds();
        for (std::size_t done = 0; done < n; done += chunk) {
            const Workload w = make_workload(requests, std::min(chunk, n - done), 100, 10000, done);
            // The schedule starts after the chunk is built, so that no slice catches up.
            const auto start = Clock::now();
            for (std::size_t first = 0; first < w.datagrams.size(); first += slice) {
                const std::size_t last =
                    paced ? std::min(first + slice, w.datagrams.size()) : w.datagrams.size();
                const double cpu = clock_cpu_seconds();
                for (std::size_t i = first; i < last; ++i) {
                    const std::uint64_t pushed = collector.events().pushed();
                    (void)collector.ingest(
                        w.datagrams[i], 1763739600 + static_cast<std::int64_t>((done + i) / 2000));
                    if (writer && collector.events().pushed() != pushed) { // as Server::store
                        (void)writer->offer(collector.events().newest_shared(),
                                            collector.events().newest_engine());
                    }
                }
                loop_cpu += clock_cpu_seconds() - cpu;
                if (!paced) {
                    break;
                }
                const auto due =
                    start +
                    std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(static_cast<double>(last) / k_paced_rate));
                ++slices;
                late += Clock::now() > due ? 1U : 0U;
                std::this_thread::sleep_until(due);
            }
            if (writer && !paced) {
                writer->flush();
            }
        }
        std::uint64_t stored = 0;
        if (writer) {
            writer->flush();
            stored = writer->counters().written;
            writer->stop();
            if (stored != n) {
                std::fprintf(stderr, "history: %llu of %zu events stored\n",
                             static_cast<unsigned long long>(stored), n);
                return 1;
            }
        }
        // The workloads' construction is on this thread too: count only the loop's share
        // of this thread, plus the other threads (the writer's).
        const double main_thread = clock_cpu_seconds() - main_cpu;
        const double others =
            std::max(0.0, clock_cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - process_cpu - main_thread);
        const double per_loop = loop_cpu * 1e6 / static_cast<double>(n);
        const double per_process = (loop_cpu + others) * 1e6 / static_cast<double>(n);
        loop_us[r] = per_loop;
        process_us[r] = per_process;
        std::printf("| %s | %s | %.2f | %.0f | %.2f | %.0f | %s |\n", history ? "on" : "off",
                    paced ? "25,000/s" : "unpaced", per_loop, 1e6 / per_loop, per_process,
                    1e6 / per_process, history ? with_thousands(stored).c_str() : "-");
    }
    (void)getloadavg(load.data(), 3);
    std::printf("\nRate with history on / off, paced / unpaced: %.2f / %.2f for the loop (the "
                "writer on its own core), %.2f / %.2f on one core (loop + writer). Paced slices "
                "ended behind schedule: %zu of %zu. Load average %.2f at the end.\n",
                loop_us[0] / loop_us[1], loop_us[2] / loop_us[3], process_us[0] / process_us[1],
                process_us[2] / process_us[3], late, slices, load[0]);
    std::filesystem::remove_all(dir);
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc < 2) {
        std::fprintf(stderr,
                     "usage: %s DATA_DIR [--quick | --history | --ingest-only | --flagged "
                     "VHOSTS] [--v2]\n",
                     argv[0]);
        return 2;
    }
    const bool quick = argc > 2 && std::string(argv[2]) == "--quick";
    const bool history = argc > 2 && std::string(argv[2]) == "--history";
    // The ingest table alone, as --quick makes it: for callgrind, whose instruction
    // counts compare builds on a machine too busy for CPU times to.
    const bool ingest_only = argc > 2 && std::string(argv[2]) == "--ingest-only";
    // One flagged row: 0 for all rows.
    const std::size_t flagged_vhosts =
        argc > 3 && std::string(argv[2]) == "--flagged" ? std::stoul(argv[3]) : 0;
    // --ring N anywhere after DATA_DIR: the ingest table's collectors keep N events
    // (the daemon's --events-ring) instead of the default.
    std::size_t ring = mso::k_default_events_ring;
    for (int i = 2; i + 1 < argc; ++i) {
        if (std::string(argv[i]) == "--ring") {
            ring = std::stoul(argv[i + 1]);
        }
    }
    g_protocol2 = std::string(argv[argc - 1]) == "--v2";
    const auto requests =
        mso::bench::captured_requests(std::string(argv[1]) + "/crs4_error_log.txt");
    if (requests.empty()) {
        std::fprintf(stderr, "no captured messages in %s\n", argv[1]);
        return 1;
    }
    if (history) {
        return history_on_off(requests, 200000);
    }

    std::printf("## Ingest (one core: decode + aggregate + ring)\n\n");
    std::printf("| mix | events | vhosts | distinct clients | findings/event | bytes/event | "
                "events/s | CPU µs/event | RSS after (MiB) |\n");
    std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    const std::size_t n = quick || ingest_only || flagged_vhosts != 0 ? 100000 : 500000;
    struct Case {
        std::size_t vhosts, clients;
    };
    for (const bool clean : {true, false}) {
        for (const Case c : {Case{1, 100}, Case{100, 10000}, Case{1000, 100000}}) {
            if (flagged_vhosts != 0 && (clean || c.vhosts != flagged_vhosts)) {
                continue;
            }
            const Workload w = make_workload(requests, n, c.vhosts, c.clients, 0, clean);
            std::size_t bytes = 0;
            for (const auto& d : w.datagrams) {
                bytes += d.size();
            }
            mso::Collector collector(mso::Collector::Clock::now(), ring);
            const double cpu = cpu_seconds();
            const auto start = Clock::now();
            for (std::size_t i = 0; i < w.datagrams.size(); ++i) {
                (void)collector.ingest(w.datagrams[i],
                                       1763739600 + static_cast<std::int64_t>(i / 2000));
            }
            const double s = seconds_since(start);
            const double used = cpu_seconds() - cpu;
            std::printf("| %s | %zu | %zu | %zu | %.1f | %zu | %.0f | %.2f | %.0f |\n",
                        clean ? "clean" : "flagged", n, c.vhosts, c.clients, w.findings_per_event,
                        bytes / n, static_cast<double>(n) / s, used * 1e6 / static_cast<double>(n),
                        rss_mib());
        }
    }

    if (ingest_only || flagged_vhosts != 0) {
        return 0;
    }

    // The socket side the daemon adds, over a SOCK_DGRAM socketpair from `senders`
    // threads, timed on the receiving thread (its own CPU time), with and without
    // Collector::ingest of each datagram. Two ways to read, both without waiting and with
    // poll() when the socket is empty, as the daemon's loop: one recvmsg() per datagram
    // with room for the sender's credentials (the daemon before datagram_batch.h) and
    // DatagramBatch (recvmmsg, 32 slots).
    std::printf("\n## Socket receive (flagged mix, 100 vhosts; receiver thread's CPU)\n\n");
    std::printf("| senders | read by | ingest | datagrams | datagrams per call | receiver CPU "
                "µs/datagram |\n");
    std::printf("| ---: | --- | --- | ---: | ---: | ---: |\n");
    {
        const std::size_t total = quick ? 50000 : 200000;
        const Workload w = make_workload(requests, total, 100, 10000);
        mso::DatagramBatch batch(mso::k_max_datagram_bytes);
        std::vector<char> buffer(mso::k_max_datagram_bytes);
        for (const std::size_t senders : {std::size_t{1}, std::size_t{4}}) {
            for (const bool ingest : {false, true}) {
                for (const bool batched : {false, true}) {
                    int fds[2];
                    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, fds) != 0) {
                        std::perror("socketpair");
                        return 1;
                    }
                    const int sndbuf = 4 * 1024 * 1024;
                    (void)setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
                    (void)setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof sndbuf);
                    const int on = 1; // as the daemon's event socket: credentials with each
                    (void)setsockopt(fds[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
                    std::vector<std::thread> threads;
                    for (std::size_t t = 0; t < senders; ++t) {
                        threads.emplace_back([&, t] {
                            for (std::size_t i = t; i < total; i += senders) {
                                const auto& d = w.datagrams[i];
                                while (send(fds[0], d.data(), d.size(), 0) < 0 && errno == EINTR) {
                                }
                            }
                        });
                    }
                    mso::Collector collector;
                    std::size_t received = 0;
                    std::size_t calls = 0;
                    const auto take = [&](std::string_view datagram) {
                        if (ingest) {
                            (void)collector.ingest(
                                datagram, 1763739600 + static_cast<std::int64_t>(received / 2000));
                        }
                        ++received;
                    };
                    const double cpu = cpu_seconds(RUSAGE_THREAD);
                    while (received < total) {
                        ++calls;
                        ssize_t got = 0;
                        if (batched) {
                            got = batch.receive(fds[1], total - received);
                            for (ssize_t i = 0; i < got; ++i) {
                                take(batch.bytes(static_cast<std::size_t>(i)));
                            }
                        } else {
                            alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
                            iovec data{buffer.data(), buffer.size()};
                            msghdr message{};
                            message.msg_iov = &data;
                            message.msg_iovlen = 1;
                            message.msg_control = control;
                            message.msg_controllen = sizeof(control);
                            got = recvmsg(fds[1], &message,
                                          MSG_TRUNC | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
                            if (got >= 0) {
                                take(
                                    std::string_view(buffer.data(), static_cast<std::size_t>(got)));
                            }
                        }
                        if (got < 0 && errno != EAGAIN && errno != EINTR) {
                            std::perror("receive");
                            return 1;
                        }
                        if (got < 0 && errno == EAGAIN) {
                            pollfd p{fds[1], POLLIN, 0};
                            (void)poll(&p, 1, -1);
                        }
                    }
                    const double used = cpu_seconds(RUSAGE_THREAD) - cpu;
                    for (auto& t : threads) {
                        t.join();
                    }
                    close(fds[0]);
                    close(fds[1]);
                    std::printf("| %zu | %s | %s | %zu | %.1f | %.2f |\n", senders,
                                batched ? "recvmmsg (DatagramBatch)" : "recvmsg",
                                ingest ? "yes" : "no", total,
                                static_cast<double>(total) / static_cast<double>(calls),
                                used * 1e6 / static_cast<double>(total));
                }
            }
        }
    }

    std::printf("\n## Memory (heap held by the collector's state)\n\n");
    std::printf("| vhosts | distinct clients | events | ring | heap (MiB) | RSS growth (MiB) |\n");
    std::printf("| ---: | ---: | ---: | ---: | ---: | ---: |\n");
    const std::size_t million = quick ? 200000 : 1000000;
    for (const Case c :
         {Case{10, 1000}, Case{1000, 100000}, Case{1000, million}, Case{10000, 100000}}) {
        const std::size_t events = std::max<std::size_t>(c.clients, 100000);
        // Datagrams are built in chunks and freed before measuring, so only the
        // collector's state is counted.
        release_free_memory();
        const double before = heap_mib();
        const double rss_before = rss_mib();
        mso::Collector collector(Clock::now(), 10000);
        for (std::size_t done = 0; done < events; done += 50000) {
            const Workload w = make_workload(requests, 50000, c.vhosts, c.clients, done);
            for (std::size_t i = 0; i < w.datagrams.size(); ++i) {
                (void)collector.ingest(w.datagrams[i],
                                       1763739600 + static_cast<std::int64_t>((done + i) / 2000));
            }
        }
        release_free_memory();
        std::printf("| %zu | %zu | %zu | 10000 | %.1f | %.1f |\n", c.vhosts, c.clients, events,
                    heap_mib() - before, rss_mib() - rss_before);
    }

    {
        // The same events over 10, 100 and 1,000 vhosts: how each query grows with them.
        const std::size_t ingested = quick ? 50000 : 200000;
        const std::size_t vhost_counts[] = {10, 100, 1000};
        const std::pair<const char*, const char*> queries[] = {
            {"stats, one vhost", R"({"cmd":"stats","vhost":"vhost7.example"})"},
            {"stats, all vhosts", R"({"cmd":"stats"})"},
            {"stats, all vhosts, as the live view asks",
             R"({"cmd":"stats","rules_limit":3,"top_clients":3})"},
            {"stats, one vhost, window 1h",
             R"({"cmd":"stats","vhost":"vhost7.example","window":3600})"},
            {"top clients, all vhosts", R"({"cmd":"top","list":"clients"})"},
            {"events, rule filter, limit 100", R"({"cmd":"events","rule":"942100"})"},
            {"health", R"({"cmd":"health"})"},
        };
        constexpr std::size_t k_queries = std::size(queries);
        double us[k_queries][std::size(vhost_counts)] = {};
        for (std::size_t v = 0; v < std::size(vhost_counts); ++v) {
            mso::Collector collector;
            const Workload w = make_workload(requests, ingested, vhost_counts[v], 100000);
            for (std::size_t i = 0; i < w.datagrams.size(); ++i) {
                (void)collector.ingest(w.datagrams[i],
                                       1763739600 + static_cast<std::int64_t>(i / 2000));
            }
            for (std::size_t q = 0; q < k_queries; ++q) {
                us[q][v] = query_us(collector, queries[q].second, 20);
            }
        }
        std::printf("\n## Query latency (µs, median of 20, after %s events)\n\n",
                    with_thousands(ingested).c_str());
        std::printf(
            "| query | 10 vhosts | 100 vhosts | 1,000 vhosts |\n| --- | ---: | ---: | ---: |\n");
        for (std::size_t q = 0; q < k_queries; ++q) {
            std::printf("| %s | %.0f | %.0f | %.0f |\n", queries[q].first, us[q][0], us[q][1],
                        us[q][2]);
        }
    }
    return 0;
}
