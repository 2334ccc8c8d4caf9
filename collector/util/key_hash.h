// The hash of the live aggregates' short keys (rule ids, client addresses, paths,
// targets): XXH3 (Debian's libxxhash-dev, header only), about 40 instructions a key of
// the collector's with its call, where std::hash's MurmurHash2 took 66-79 (docs/
// BENCHMARKS.md, "the top lists, the hashes and the event built in place").
// Not stored: nothing on disk depends on it. Pure.
#pragma once

#include <cstdint>
#include <string_view>

namespace mso {

[[nodiscard]] std::uint64_t key_hash(std::string_view key) noexcept;

} // namespace mso
