// The bytes a query client has yet to read (util/output_buffer.h): appended at the end,
// consumed from the front in any steps, always the same bytes in the same order.
#include "util/output_buffer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace {

using mso::OutputBuffer;

TEST(OutputBuffer, ConsumedInStepsGivesTheBytesInOrder)
{
    OutputBuffer out;
    EXPECT_TRUE(out.empty());
    std::string expected;
    std::string written;
    for (int i = 0; i < 2000; ++i) {
        const std::string line = "line " + std::to_string(i) + "\n";
        out += line;
        expected += line;
        if (i % 3 == 0) {
            // A socket that takes an odd amount each time.
            const std::size_t n =
                std::min<std::size_t>(out.size(), 7 + static_cast<std::size_t>(i % 50));
            written.append(out.data(), n);
            out.consume(n);
        }
    }
    EXPECT_EQ(std::string(out.view()), expected.substr(written.size()));
    while (!out.empty()) {
        const std::size_t n = std::min<std::size_t>(out.size(), 1000);
        written.append(out.data(), n);
        out.consume(n);
    }
    EXPECT_EQ(written, expected);
    EXPECT_EQ(out.size(), 0U);
}

// The written head is dropped once it is half the string: memory does not grow with
// what was written, only with what waits.
TEST(OutputBuffer, WrittenBytesDoNotAccumulate)
{
    OutputBuffer out;
    const std::string chunk(1000, 'y');
    for (int i = 0; i < 10000; ++i) { // 10 MB through, never more than 2,000 bytes waiting
        out += chunk;
        out.consume(out.size() > 1000 ? 1000 : 500);
    }
    EXPECT_LE(out.size(), 2000U);
    EXPECT_LT(out.capacity(), 64U * 1024U);
}

TEST(OutputBuffer, AppendsEveryKindOfText)
{
    OutputBuffer out;
    std::string moved = "answer";
    out += std::move(moved); // taken whole: nothing was waiting
    out += '\n';
    out += std::string("more");
    out += std::string_view("-view");
    out += "-literal";
    std::string another = "!";
    out += std::move(another); // appended: something was waiting
    EXPECT_EQ(std::string(out.view()), "answer\nmore-view-literal!");
    out.consume(7);
    EXPECT_EQ(std::string(out.view()), "more-view-literal!");
    out.consume(1000); // more than waits: all of it
    EXPECT_TRUE(out.empty());
    out += "again";
    EXPECT_EQ(std::string(out.view()), "again");
}

TEST(OutputBuffer, ALargeAnswerMovedInIsNotCopiedAndItsMemoryGoesBack)
{
    OutputBuffer out;
    std::string answer(1 << 20, 'x');
    const char* bytes = answer.data();
    out += std::move(answer);
    EXPECT_EQ(out.data(), bytes); // the same memory
    out.consume(100);
    EXPECT_EQ(out.data(), bytes + 100); // consuming moves nothing
    EXPECT_EQ(out.size(), (1U << 20) - 100);
    out.consume(out.size());
    EXPECT_TRUE(out.empty());
    EXPECT_LE(out.capacity(), OutputBuffer::k_kept_capacity); // the megabyte went back
    out += "small";
    EXPECT_EQ(std::string(out.view()), "small");
}

} // namespace
