// What the module's request path spends on a flagged request's findings: the encoder
// (common/event_encoder.cpp) fed with real CRS 4 alert messages captured from Apache
// (tests/data), each request's messages as the error_log hook keeps them. Prints CPU ns
// per request and per finding for parsing alone and for the whole encoding, in protocol
// version 1 (parsed and written as JSON) and version 2 (the messages copied raw), and
// what the collector's decode_datagram() then spends on each version's datagram. For
// instruction counts (deterministic, what docs/BENCHMARKS.md compares) run it under
// callgrind, which counts each function on its own:
//
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/enc.out
//            build/bench/encode_bench tests/data 200   (one command line)
//   callgrind_annotate --inclusive=yes /tmp/enc.out | grep -E 'encode_request_event|parse_modsec'
//
// Usage: encode_bench DATA_DIR [ROUNDS]
#include "captured_alerts.h"
#include "cpu_time.h"
#include "event_decoder.h"
#include "event_encoder.h"
#include "modsec_message.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

int main(int argc, char** argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: encode_bench DATA_DIR [ROUNDS]\n");
        return 2;
    }
    const long rounds = argc > 2 ? std::strtol(argv[2], nullptr, 10) : 2000;
    const auto requests =
        mso::bench::captured_requests(std::string(argv[1]) + "/crs4_error_log.txt");
    std::vector<std::vector<std::string_view>> views;
    std::size_t messages = 0, bytes = 0;
    for (const auto& r : requests) {
        views.emplace_back(r.begin(), r.end());
        messages += r.size();
        for (const auto& m : r)
            bytes += m.size();
    }
    if (views.empty() || rounds <= 0) {
        std::fprintf(stderr, "encode_bench: no captured requests in %s\n", argv[1]);
        return 1;
    }
    mso::AnomalyScores scores = mso::bench::flagged_scores();
    mso::RequestRecord r;
    r.time_us = 1763739600000000;
    r.vhost = "shop.example";
    r.port = 443;
    r.unique_id = "awG4kYgLm4DuO_pFxuUGdwAAAIE";
    r.client = "203.0.113.9";
    r.method = "GET";
    r.path = "/catalog/search";
    r.status = 403;
    r.protocol = "HTTP/1.1";
    r.user_agent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    r.scores = &scores;

    std::string buffer(64 * 1024, '\0');
    std::size_t sink = 0;
    double start = mso::bench::cpu_seconds();
    for (long k = 0; k < rounds; ++k)
        for (const auto& v : views)
            for (const auto m : v) {
                mso::MessageView parsed;
                sink += mso::parse_modsec_message(m, parsed) ? parsed.id.size() : 0;
            }
    const double parse_s = mso::bench::cpu_seconds() - start;
    std::size_t findings = 0, out_bytes = 0;
    start = mso::bench::cpu_seconds();
    for (long k = 0; k < rounds; ++k)
        for (const auto& v : views) {
            const auto enc = mso::encode_request_event(r, v.data(), v.size(), 0, {}, buffer.data(),
                                                       buffer.size());
            findings += enc.findings;
            out_bytes += enc.size;
        }
    const double encode_s = mso::bench::cpu_seconds() - start;
    std::size_t out_bytes2 = 0;
    start = mso::bench::cpu_seconds();
    for (long k = 0; k < rounds; ++k)
        for (const auto& v : views)
            out_bytes2 += mso::encode_request_event_v2(r, v.data(), v.size(), 0, {}, buffer.data(),
                                                       buffer.size())
                              .size;
    const double encode2_s = mso::bench::cpu_seconds() - start;
    // The collector's side: each request's datagram of either version, decoded.
    std::vector<std::string> datagrams[2];
    for (const auto& v : views) {
        const auto e1 =
            mso::encode_request_event(r, v.data(), v.size(), 0, {}, buffer.data(), buffer.size());
        datagrams[0].emplace_back(buffer.data(), e1.size);
        const auto e2 = mso::encode_request_event_v2(r, v.data(), v.size(), 0, {}, buffer.data(),
                                                     buffer.size());
        datagrams[1].emplace_back(buffer.data(), e2.size);
    }
    double decode_s[2] = {0, 0};
    for (int version = 0; version < 2; ++version) {
        start = mso::bench::cpu_seconds();
        for (long k = 0; k < rounds; ++k)
            for (const auto& d : datagrams[version])
                sink += mso::decode_datagram(d).index();
        decode_s[version] = mso::bench::cpu_seconds() - start;
    }
    const double n = static_cast<double>(rounds) * static_cast<double>(views.size());
    std::printf("requests %zu, messages %zu (%.1f per request, %.0f bytes each), rounds %ld\n",
                views.size(), messages,
                static_cast<double>(messages) / static_cast<double>(views.size()),
                static_cast<double>(bytes) / static_cast<double>(messages), rounds);
    std::printf("datagram %.0f bytes, %.2f findings per request\n",
                static_cast<double>(out_bytes) / n, static_cast<double>(findings) / n);
    std::printf("parse only:  %.2f us per request\n", parse_s * 1e6 / n);
    std::printf("encode:      %.2f us per request, %.2f us per finding\n", encode_s * 1e6 / n,
                encode_s * 1e6 / static_cast<double>(findings));
    std::printf("version 2:   datagram %.0f bytes, encode %.2f us per request\n",
                static_cast<double>(out_bytes2) / n, encode2_s * 1e6 / n);
    std::printf("decode v1:   %.2f us per request (collector)\n", decode_s[0] * 1e6 / n);
    std::printf("decode v2:   %.2f us per request (collector)\n", decode_s[1] * 1e6 / n);
    return sink == 0 ? 1 : 0;
}
