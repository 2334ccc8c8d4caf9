// Fuzz target: a rule posting as history.db holds it (store/rule_postings.h), which the
// store reads back from a file on disk that anything may have damaged. The input's first
// 8 bytes are the row's bucket (little-endian; shorter inputs pad with zeros), the rest
// its `entries` blob. decode_posting() must refuse or accept without reading past the
// blob; every hit it gives lies in the bucket, in time order; and the hits it gives,
// encoded again, decode to the same hits.
#include "fuzz_check.h"
#include "store/rule_postings.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    std::uint64_t raw = 0;
    for (std::size_t i = 0; i < 8 && i < size; ++i) {
        raw |= static_cast<std::uint64_t>(data[i]) << (8 * i);
    }
    // Keep the bucket's start representable half the time, so that decoding gets past
    // the first check; the other half tests the check.
    auto bucket = static_cast<std::int64_t>(raw);
    if ((raw & 1) == 0) {
        bucket /= mso::k_posting_bucket_us;
    }
    const std::string_view blob =
        size > 8 ? std::string_view(reinterpret_cast<const char*>(data) + 8, size - 8)
                 : std::string_view();
    std::vector<mso::RuleHit> hits;
    const bool ok = mso::decode_posting(bucket, blob, hits);
    for (std::size_t i = 0; i < hits.size(); ++i) {
        MSO_FUZZ_CHECK(mso::posting_bucket(hits[i].time_us) == bucket);
        MSO_FUZZ_CHECK(i == 0 || hits[i - 1].time_us <= hits[i].time_us);
    }
    MSO_FUZZ_CHECK(!ok || !blob.empty() || hits.empty());
    if (hits.empty()) {
        return 0; // (an empty posting of an unrepresentable bucket is refused, rightly)
    }
    std::string again;
    mso::encode_posting(bucket, hits, again);
    std::vector<mso::RuleHit> back;
    MSO_FUZZ_CHECK(mso::decode_posting(bucket, again, back));
    MSO_FUZZ_CHECK(back == hits);
    return 0;
}
