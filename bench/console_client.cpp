// mlogc-like load for the console receiver, cheap enough that the clients do not take
// the CPU the collector needs (console_bench.py's Python clients cost about as much CPU
// per upload as the collector on a 2-core machine). Each of --clients threads keeps one
// keep-alive connection (TCP_NODELAY, as curl and so mlogc set it) and sends, one after
// the other, what mlogc sends: `PUT /rpc/auditLogReceiver` with Basic credentials,
// `X-Content-Hash: md5:<hex> ` (mlogc's trailing space), `X-ForensicLog-Summary`, an
// empty `Expect:` and the entry; it waits for the answer before the next upload, and
// reconnects when the server closes (keep-alive limit). Every request is encoded (unique
// id made distinct, MD5 computed) before the clock starts, so the timed part is only
// send/recv. Prints one JSON line: entries, seconds, answers that were not 200, and the
// client's own CPU seconds.
//
// Usage: console_client PORT CLIENTS ENTRIES FIRST TEMPLATE UNIQUE_ID USER:PASSWORD
//   TEMPLATE: a Native entry file whose every occurrence of UNIQUE_ID is replaced by a
//   zero-padded number from FIRST on (the same length), one per upload.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

// A byte as an unsigned int (not promoted to int, so shifts stay unsigned).
unsigned byte(char c)
{
    return static_cast<unsigned>(static_cast<unsigned char>(c));
}

std::string base64(std::string_view in)
{
    static constexpr std::string_view k_digits =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const unsigned v = byte(in[i]) << 16U | byte(in[i + 1]) << 8U | byte(in[i + 2]);
        out += k_digits[v >> 18U & 63U];
        out += k_digits[v >> 12U & 63U];
        out += k_digits[v >> 6U & 63U];
        out += k_digits[v & 63U];
    }
    if (i < in.size()) {
        const bool two = i + 1 < in.size();
        const unsigned v = byte(in[i]) << 16U | (two ? byte(in[i + 1]) << 8U : 0U);
        out += k_digits[v >> 18U & 63U];
        out += k_digits[v >> 12U & 63U];
        out += two ? k_digits[v >> 6U & 63U] : '=';
        out += '=';
    }
    return out;
}

std::string md5_hex(std::string_view body)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(body.data(), body.size(), digest, &size, EVP_md5(), nullptr);
    static constexpr std::string_view k_hex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
        out += k_hex[digest[i] >> 4U];
        out += k_hex[digest[i] & 15U];
    }
    return out;
}

std::string encode(const std::string& entry, const std::string& uid, std::size_t number,
                   const std::string& authorization, int port)
{
    std::string id = std::to_string(number);
    id = std::string(uid.size() > id.size() ? uid.size() - id.size() : 0, '0') + id;
    id = id.substr(id.size() - uid.size());
    std::string body = entry;
    for (std::size_t at = body.find(uid); at != std::string::npos;
         at = body.find(uid, at + id.size())) {
        body.replace(at, uid.size(), id);
    }
    const std::string hash = "md5:" + md5_hex(body);
    std::string request =
        "PUT /rpc/auditLogReceiver HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
        "\r\nAuthorization: " + authorization + "\r\nAccept: */*\r\nX-Content-Hash: " + hash +
        " \r\nX-ForensicLog-Summary: localhost 127.0.0.1 - - "
        "[03/Dec/2026:07:00:00.000000 +0000] \"GET /?q=bench HTTP/1.1\" "
        "403 199 \"-\" \"-\" " +
        id + " \"-\" /20261203/20261203-0700/20261203-070000-" + id + " 0 " +
        std::to_string(body.size()) + " " + hash +
        " \r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    request += body;
    return request;
}

int connect_to(int port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int yes = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

bool send_all(int fd, std::string_view data)
{
    while (!data.empty()) {
        const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n <= 0) {
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// Reads one answer: its status (0 when the connection failed) and whether the server
// closes the connection after it.
int read_answer(int fd, std::string& buffer, bool& closing)
{
    buffer.clear();
    char chunk[4096];
    std::size_t end = std::string::npos;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
        const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
        if (n <= 0) {
            return 0;
        }
        buffer.append(chunk, static_cast<std::size_t>(n));
    }
    const std::string_view head(buffer.data(), end);
    const int status = head.size() > 12 ? std::atoi(buffer.c_str() + 9) : 0;
    std::size_t length = 0;
    for (const std::string_view name : {"Content-Length: ", "content-length: "}) {
        if (const auto at = head.find(name); at != std::string_view::npos) {
            length = std::strtoul(buffer.c_str() + at + name.size(), nullptr, 10);
        }
    }
    closing = head.find("Connection: close") != std::string_view::npos;
    while (buffer.size() < end + 4 + length) {
        const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
        if (n <= 0) {
            return 0;
        }
        buffer.append(chunk, static_cast<std::size_t>(n));
    }
    return status;
}

double cpu_seconds()
{
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc != 8) {
        std::fprintf(stderr, "usage: console_client PORT CLIENTS ENTRIES FIRST TEMPLATE "
                             "UNIQUE_ID USER:PASSWORD\n");
        return 2;
    }
    const int port = std::atoi(argv[1]);
    const auto clients = static_cast<std::size_t>(std::atol(argv[2]));
    const auto entries = static_cast<std::size_t>(std::atol(argv[3]));
    const auto first = static_cast<std::size_t>(std::atol(argv[4]));
    std::ifstream in(argv[5], std::ios::binary);
    const std::string entry((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string uid = argv[6];
    const std::string authorization = "Basic " + base64(argv[7]);
    if (clients == 0 || entry.empty() || uid.empty()) {
        std::fprintf(stderr, "console_client: no clients, empty template or unique id\n");
        return 2;
    }
    const std::size_t per = entries / clients;
    std::vector<std::vector<std::string>> requests(clients);
    for (std::size_t c = 0; c < clients; ++c) {
        for (std::size_t i = 0; i < per; ++i) {
            requests[c].push_back(encode(entry, uid, first + c * per + i, authorization, port));
        }
    }
    std::atomic<std::size_t> not_200{0};
    std::atomic<std::size_t> failed{0};
    std::barrier start(static_cast<std::ptrdiff_t>(clients + 1));
    std::vector<std::thread> threads;
    for (std::size_t c = 0; c < clients; ++c) {
        threads.emplace_back([&, c] {
            int fd = connect_to(port);
            start.arrive_and_wait();
            std::string buffer;
            for (const std::string& request : requests[c]) {
                bool closing = false;
                int status =
                    fd < 0 || !send_all(fd, request) ? 0 : read_answer(fd, buffer, closing);
                if (status == 0) { // the connection ended: once more on a new one
                    ::close(fd);
                    fd = connect_to(port);
                    status =
                        fd < 0 || !send_all(fd, request) ? 0 : read_answer(fd, buffer, closing);
                }
                if (status == 0) {
                    failed.fetch_add(1);
                } else if (status != 200) {
                    not_200.fetch_add(1);
                }
                if (closing || status == 0) {
                    ::close(fd);
                    fd = connect_to(port);
                }
            }
            ::close(fd);
        });
    }
    const double cpu0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    start.arrive_and_wait();
    for (std::thread& t : threads) {
        t.join();
    }
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - t0;
    std::printf("{\"entries\": %zu, \"seconds\": %.3f, \"not_200\": %zu, \"failed\": %zu, "
                "\"client_cpu_s\": %.3f}\n",
                per * clients, elapsed.count(), not_200.load(), failed.load(),
                cpu_seconds() - cpu0);
    return not_200.load() + failed.load() == 0 ? 0 : 1;
}
