// Regenerates the real-data part of the seed corpora from the captured error logs
// (tests/data/crs*_error_log.txt), with the module's own parser and encoder:
//   fuzz_make_seeds tests/data tests/fuzz/corpus
// modsec_message/: the messages of each captured request, as the error_log hook receives
//   them (error-log escaped), one per line; and the first line of each rule id alone.
// event_decoder/: the request event the module sends for each request (with and without
//   scores), and counter reports.
// Hand-written seeds (forgeries, malformed datagrams, query lines) are committed as they
// are; see docs/FUZZING.md. Not run in CI.
#include "event_encoder.h"
#include "event_fields.h"
#include "modsec_message.h"

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

struct Request {
    std::string name;             // e.g. crs3-block.test-3
    std::vector<std::string> raw; // errstr as the hook receives it (escaped)
};

std::vector<Request> read_requests(const std::string& path, const std::string& tag)
{
    std::ifstream in(path);
    std::map<std::string, std::size_t> by_uid;
    std::vector<Request> out;
    for (std::string line; std::getline(in, line);) {
        const std::size_t msg = line.find("[client 127.0.0.1] ModSecurity: ");
        const std::size_t u = line.find("[unique_id \"");
        if (msg == std::string::npos || u == std::string::npos)
            continue;
        const std::string uid = line.substr(u, line.find('"', u + 12) - u);
        auto [it, added] = by_uid.emplace(uid, out.size());
        if (added)
            out.push_back({tag + "-request-" + std::to_string(out.size() + 1), {}});
        out[it->second].raw.push_back(line.substr(msg));
    }
    return out;
}

void write(const std::string& path, const std::string& data)
{
    std::ofstream(path, std::ios::binary) << data;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s DATA_DIR CORPUS_DIR\n", argv[0]);
        return 2;
    }
    const std::string data = argv[1], corpus = argv[2];
    std::set<std::string> single_ids;
    std::size_t files = 0;
    for (const std::string crs : {"crs3", "crs4"}) {
        for (const Request& req : read_requests(data + "/" + crs + "_error_log.txt", crs)) {
            std::string joined;
            std::vector<std::string> unescaped;
            for (const std::string& raw : req.raw) {
                joined += (joined.empty() ? "" : "\n") + raw;
                std::string text = raw;
                text.resize(mso::apache_log_unescape(text.data(), text.size()));
                unescaped.push_back(text);
                mso::MessageView m;
                if (!mso::parse_modsec_message(text, m))
                    continue;
                const std::string id = m.id.empty() ? "noid" : std::string(m.id);
                if (single_ids.insert(crs + "-" + id).second) {
                    write(corpus + "/modsec_message/" + crs + "-rule-" + id + ".txt", raw);
                    ++files;
                }
            }
            write(corpus + "/modsec_message/" + req.name + ".txt", joined);
            ++files;

            std::vector<std::string_view> views(unescaped.begin(), unescaped.end());
            mso::RequestRecord r;
            r.time_us = 1763739600123456;
            r.vhost = "block.test";
            r.port = 8080;
            r.unique_id = "aR9xAAAB";
            r.client = "127.0.0.1";
            r.method = "GET";
            r.path = "/";
            r.query = "id=1%27%20OR%201%3D1--";
            r.include_query = true;
            r.status = 403;
            r.protocol = "HTTP/1.1";
            mso::AnomalyScores scores;
            scores.inbound = 5;
            scores.inbound_pl = {5, 0, 0, 0};
            scores.inbound_threshold = 5;
            scores.outbound_threshold = 4;
            scores.blocking_pl = 1;
            scores.detection_pl = 1;
            for (const bool with_scores : {true, false}) {
                r.scores = with_scores ? &scores : nullptr;
                std::string buffer(32 * 1024, '\0');
                const auto enc = mso::encode_request_event(r, views.data(), views.size(), 0, {},
                                                           buffer.data(), buffer.size());
                buffer.resize(enc.size);
                write(corpus + "/event_decoder/" + req.name +
                          (with_scores ? "-event.json" : "-event-noscores.json"),
                      buffer);
                ++files;
            }
            // Protocol version 2: the JSON, then the messages raw behind NUL bytes.
            std::string buffer(mso::k_max_datagram_bytes, '\0');
            const auto enc = mso::encode_request_event_v2(r, views.data(), views.size(), 0, {},
                                                          buffer.data(), buffer.size());
            buffer.resize(enc.size);
            write(corpus + "/event_decoder/" + req.name + "-event-v2.bin", buffer);
            ++files;
        }
    }
    std::uint64_t status[mso::k_status_slots] = {};
    status[200 - mso::k_min_status] = 1180;
    status[304 - mso::k_min_status] = 15;
    status[404 - mso::k_min_status] = 5;
    status[mso::k_status_slots - 1] = 1; // a status outside 100..599
    mso::CounterTotals snap;
    snap.vhost = "shop.example";
    snap.port = 443;
    snap.pid = 4242;
    snap.requests = 1201;
    snap.events_lost = 3;
    snap.status = status;
    char buffer[16 * 1024];
    write(corpus + "/event_decoder/counters.json",
          std::string(buffer, mso::encode_counters(snap, buffer, sizeof buffer)));
    ++files;
    std::printf("%zu seed files written to %s\n", files, corpus.c_str());
    return 0;
}
