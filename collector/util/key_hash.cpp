// key_hash(); see key_hash.h. XXH3 is compiled in line here (XXH_INLINE_ALL), so the
// collector needs libxxhash-dev to build and nothing to run.
#include "util/key_hash.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace mso {

std::uint64_t key_hash(std::string_view key) noexcept
{
    return XXH3_64bits(key.data(), key.size());
}

} // namespace mso
