#include "daemon/answer_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace mso {
namespace {

using namespace std::chrono_literals;

// An answerer that remembers each question and answers when told to.
struct Answerer {
    std::vector<std::pair<std::string, std::function<void(std::string)>>> asked;

    AnswerCache::Ask ask()
    {
        return [this](std::string line, std::function<void(std::string)> reply) {
            asked.emplace_back(std::move(line), std::move(reply));
        };
    }
};

bool is_error(const std::string& answer)
{
    return answer.starts_with("error");
}

class AnswerCacheTest : public ::testing::Test {
protected:
    AnswerCacheTest() : cache(answerer.ask(), is_error, 1000ms, 3)
    {
        cache.set_clock([this] { return now; });
    }

    Answerer answerer;
    AnswerCache cache;
    AnswerCache::Clock::time_point now{};
};

TEST_F(AnswerCacheTest, TheSameLineWithinMaxAgeIsAskedOnceAndSharesTheAnswer)
{
    auto first = cache.get("stats");
    now += 400ms;
    auto second = cache.get("stats"); // still in flight: waits for the first's answer
    ASSERT_EQ(answerer.asked.size(), 1U);
    EXPECT_NE(first.wait_for(0s), std::future_status::ready);
    answerer.asked[0].second("answer 1");
    EXPECT_EQ(first.get(), "answer 1");
    EXPECT_EQ(second.get(), "answer 1");
    now += 500ms; // 900 ms after it was asked: finished, still shared
    EXPECT_EQ(cache.get("stats").get(), "answer 1");
    EXPECT_EQ(answerer.asked.size(), 1U);
    EXPECT_EQ(cache.counts().shared, 2U);
    EXPECT_EQ(cache.counts().asked, 1U);
}

TEST_F(AnswerCacheTest, AnAnswerOlderThanMaxAgeIsAskedAgain)
{
    auto first = cache.get("stats");
    answerer.asked[0].second("answer 1");
    now += 1000ms;
    auto second = cache.get("stats");
    ASSERT_EQ(answerer.asked.size(), 2U);
    answerer.asked[1].second("answer 2");
    EXPECT_EQ(second.get(), "answer 2");
    EXPECT_EQ(cache.size(), 1U); // the old one was dropped
}

TEST_F(AnswerCacheTest, DifferentLinesAreDifferentQuestions)
{
    auto a = cache.get(R"({"cmd":"stats"})");
    auto b = cache.get(R"({"cmd":"stats","vhost":"shop.example"})");
    ASSERT_EQ(answerer.asked.size(), 2U);
    answerer.asked[0].second("all");
    answerer.asked[1].second("shop");
    EXPECT_EQ(a.get(), "all");
    EXPECT_EQ(b.get(), "shop");
}

TEST_F(AnswerCacheTest, AnErrorAnswerIsNotKeptOnceItArrived)
{
    auto first = cache.get("health");
    auto shared = cache.get("health"); // in flight: shared, error or not
    ASSERT_EQ(answerer.asked.size(), 1U);
    answerer.asked[0].second("error: busy");
    EXPECT_EQ(shared.get(), "error: busy");
    auto again = cache.get("health");
    ASSERT_EQ(answerer.asked.size(), 2U); // asked again at once
    answerer.asked[1].second("fine");
    EXPECT_EQ(again.get(), "fine");
}

TEST_F(AnswerCacheTest, ADroppedQuestionIsNotKept)
{
    auto first = cache.get("stats");
    answerer.asked.clear(); // the answerer drops the reply without calling it
    EXPECT_THROW(first.get(), std::future_error);
    auto again = cache.get("stats");
    ASSERT_EQ(answerer.asked.size(), 1U);
    answerer.asked[0].second("answer");
    EXPECT_EQ(again.get(), "answer");
}

TEST_F(AnswerCacheTest, AFullCacheStillAnswersWithoutRemembering)
{
    for (const char* line : {"a", "b", "c", "d"}) {
        (void)cache.get(line);
    }
    EXPECT_EQ(cache.size(), 3U); // the bound
    auto d_again = cache.get("d");
    ASSERT_EQ(answerer.asked.size(), 5U); // "d" was not remembered: asked again
    now += 1000ms;                        // everything expires
    (void)cache.get("e");
    EXPECT_EQ(cache.size(), 1U);
    for (auto& [line, reply] : answerer.asked) {
        reply("answer " + line);
    }
    EXPECT_EQ(d_again.get(), "answer d");
}

TEST_F(AnswerCacheTest, AnAnswerGivenAtOnceOnTheAskingThreadIsFine)
{
    AnswerCache direct(
        [](std::string line, std::function<void(std::string)> reply) {
            reply("answer " + line); // re-enters nothing: get() asks outside its lock
        },
        is_error, std::chrono::hours(1)); // the real clock: an hour is "at once" on any machine
    EXPECT_EQ(direct.get("x").get(), "answer x");
    EXPECT_EQ(direct.get("x").get(), "answer x");
    EXPECT_EQ(direct.counts().asked, 1U);
}

} // namespace
} // namespace mso
