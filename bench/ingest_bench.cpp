// Audit-log import rate on one core: the real captured logs of tests/data/audit repeated
// in memory to SIZE MB and read by AuditReader in 1 MiB chunks (no disk, no store):
//   ingest_bench [SIZE_MB]      (default 256)
// Prints MB/s and entries/s per format; the target is >= 50 MB/s of v2 Native
// Serial (a 27 GB log in under 10 minutes).
#include "ingest/audit_reader.h"

#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace {

// CPU time of this process: the rate per core even on a busy machine.
double cpu_seconds()
{
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Count : mso::AuditSink {
    std::size_t entries = 0;
    std::size_t errors = 0;
    std::size_t findings = 0;
    void entry(const mso::AuditEntry& e) override
    {
        ++entries;
        findings += e.event.findings.size();
    }
    void error(const mso::AuditError&) override { ++errors; }
};

void run(const char* name, std::size_t target_bytes)
{
    std::ifstream in(std::string(MSO_SOURCE_DIR) + "/tests/data/audit/" + name, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    const std::string one = s.str();
    if (one.empty()) {
        std::fprintf(stderr, "cannot read %s\n", name);
        std::exit(1);
    }
    std::string log;
    log.reserve(target_bytes + one.size());
    while (log.size() < target_bytes)
        log += one;

    Count count;
    mso::AuditReader reader;
    constexpr std::size_t k_chunk = 1024 * 1024;
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = cpu_seconds();
    for (std::size_t i = 0; i < log.size(); i += k_chunk)
        reader.feed(std::string_view(log).substr(i, k_chunk), count);
    reader.finish(count);
    const double cpu = cpu_seconds() - cpu_start;
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double mb = static_cast<double>(log.size()) / 1e6;
    std::printf("%-32s %7.1f MB  cpu %6.2f s  %7.1f MB/s  %8.0f entries/s  (wall %6.2f s; "
                "%zu entries, %zu findings, %zu errors)\n",
                name, mb, cpu, mb / cpu, static_cast<double>(count.entries) / cpu, wall,
                count.entries, count.findings, count.errors);
}

} // namespace

int main(int argc, char** argv)
{
    const std::size_t mb = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 256;
    for (const char* name : {"v2_native_serial.log", "v2_native_serial_kc_newyork.log",
                             "v2_json_serial.log", "v3_native.log", "v3_json.log"})
        run(name, mb * 1000 * 1000);
    return 0;
}
