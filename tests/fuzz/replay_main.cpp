// Replays corpus files through a fuzz target's LLVMFuzzerTestOneInput, so the committed
// seeds (and every reproducer of a past crash) run as an ordinary test in the normal
// build, without clang or libFuzzer:
//   fuzz_replay_<target> DIR_OR_FILE...
// Fails when an input crashes or breaks an invariant (the target aborts), and when no
// input was found at all, so a missing corpus cannot pass silently.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

bool read_file(const std::filesystem::path& path, std::vector<std::uint8_t>& out)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return false;
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return !in.bad();
}

} // namespace

int main(int argc, char** argv)
{
    std::vector<std::filesystem::path> files;
    for (int i = 1; i < argc; ++i) {
        const std::filesystem::path arg(argv[i]);
        std::error_code ec;
        if (std::filesystem::is_directory(arg, ec)) {
            for (const auto& entry : std::filesystem::directory_iterator(arg, ec))
                if (entry.is_regular_file())
                    files.push_back(entry.path());
        } else if (std::filesystem::is_regular_file(arg, ec)) {
            files.push_back(arg);
        } else {
            std::fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
            return 2;
        }
    }
    if (files.empty()) {
        std::fprintf(stderr, "replay: no corpus files found\n");
        return 2;
    }
    std::sort(files.begin(), files.end());
    std::vector<std::uint8_t> data;
    for (const auto& path : files) {
        if (!read_file(path, data)) {
            std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
            return 2;
        }
        // Printed before the run, so the input that crashed is the last line shown.
        std::fprintf(stderr, "replay: %s (%zu bytes)\n", path.c_str(), data.size());
        // An exact-size heap copy: a read past the end is visible to ASan, as under libFuzzer.
        std::vector<std::uint8_t> exact(data.begin(), data.end());
        LLVMFuzzerTestOneInput(exact.empty() ? nullptr : exact.data(), exact.size());
    }
    std::fprintf(stderr, "replay: %zu inputs, no failure\n", files.size());
    return 0;
}
