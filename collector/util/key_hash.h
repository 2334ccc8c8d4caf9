// The hash of the live aggregates' short keys (rule ids, client addresses, paths,
// targets): XXH3 (Debian's libxxhash-dev, header only), a few words of work for the keys
// of up to 16 bytes that most are, where std::hash's MurmurHash2 costs about four
// instructions a byte plus its call (docs/BENCHMARKS.md, "the top lists and the hashes").
// Not stored: nothing on disk depends on it. Pure.
#pragma once

#include <cstdint>
#include <string_view>

namespace mso {

[[nodiscard]] std::uint64_t key_hash(std::string_view key) noexcept;

} // namespace mso
