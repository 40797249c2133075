#include "relay/subscription/filter.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>

namespace {

using relay::subscription::filter;
using relay::subscription::problem_list;

constexpr const char* event_json = R"({
    "type": "order.created",
    "any": "top-level member named any",
    "data": {
        "currency": "EUR",
        "amount": 1500,
        "ratio": 0.25,
        "count": "1",
        "paid": true,
        "note": null,
        "big": 18446744073709551615,
        "items": [{"sku": "SKU-1"}, {"sku": "X-2"}],
        "byindex": {"0": "zero"},
        "a.b": "dotted"
    }
})";

class filter_test : public ::testing::Test
{
protected:
    void SetUp() override { ASSERT_FALSE(event_.Parse(event_json).HasParseError()); }

    // Compiles `f` (which must be valid) and evaluates it against the event.
    bool matches(const std::string& f)
    {
        auto parsed = filter::parse(f);
        EXPECT_TRUE(parsed) << f << ": " << (parsed ? "" : relay::subscription::to_string(parsed.error()));
        return parsed && parsed->matches(event_);
    }

    // The problems of an invalid filter.
    problem_list problems(const std::string& f)
    {
        auto parsed = filter::parse(f);
        EXPECT_FALSE(parsed) << f;
        return parsed ? problem_list{} : parsed.error();
    }

    rapidjson::Document event_;
};

TEST_F(filter_test, empty_filter_matches_everything)
{
    EXPECT_TRUE(matches("{}"));
}

TEST_F(filter_test, literal_is_equality)
{
    EXPECT_TRUE(matches(R"({"data.currency": "EUR"})"));
    EXPECT_FALSE(matches(R"({"data.currency": "USD"})"));
    EXPECT_TRUE(matches(R"({"type": "order.created", "data.paid": true})"));
    EXPECT_TRUE(matches(R"({"data.note": null})"));
}

TEST_F(filter_test, all_keys_must_hold)
{
    EXPECT_FALSE(matches(R"({"data.currency": "EUR", "data.paid": false})"));
}

TEST_F(filter_test, equality_is_type_strict)
{
    EXPECT_FALSE(matches(R"({"data.count": 1})"));
    EXPECT_TRUE(matches(R"({"data.count": "1"})"));
    EXPECT_FALSE(matches(R"({"data.paid": 1})"));
    EXPECT_FALSE(matches(R"({"data.note": false})"));
    EXPECT_FALSE(matches(R"({"data.amount": "1500"})"));
}

TEST_F(filter_test, numbers_compare_by_value)
{
    EXPECT_TRUE(matches(R"({"data.amount": 1500.0})"));
    EXPECT_TRUE(matches(R"({"data.big": 18446744073709551615})"));
    EXPECT_FALSE(matches(R"({"data.big": -1})"));
}

TEST_F(filter_test, missing_path_never_equals)
{
    EXPECT_FALSE(matches(R"({"data.missing": null})"));
    EXPECT_FALSE(matches(R"({"data.currency.deeper": "EUR"})"));
    EXPECT_FALSE(matches(R"({"nothing.here": "x"})"));
}

TEST_F(filter_test, eq_and_ne)
{
    EXPECT_TRUE(matches(R"({"data.currency": {"eq": "EUR"}})"));
    EXPECT_FALSE(matches(R"({"data.currency": {"ne": "EUR"}})"));
    EXPECT_TRUE(matches(R"({"data.currency": {"ne": "USD"}})"));
    EXPECT_TRUE(matches(R"({"data.missing": {"ne": "USD"}})"));
}

TEST_F(filter_test, in_and_nin)
{
    EXPECT_TRUE(matches(R"({"data.currency": {"in": ["USD", "EUR"]}})"));
    EXPECT_FALSE(matches(R"({"data.currency": {"in": ["USD", "GBP"]}})"));
    EXPECT_FALSE(matches(R"({"data.amount": {"in": ["1500"]}})"));
    EXPECT_TRUE(matches(R"({"data.amount": {"in": [1, 1500]}})"));
    EXPECT_FALSE(matches(R"({"data.currency": {"nin": ["USD", "EUR"]}})"));
    EXPECT_TRUE(matches(R"({"data.currency": {"nin": ["USD"]}})"));
    EXPECT_TRUE(matches(R"({"data.missing": {"nin": ["USD"]}})"));
    EXPECT_FALSE(matches(R"({"data.missing": {"in": ["USD", null]}})"));
}

TEST_F(filter_test, exists)
{
    EXPECT_TRUE(matches(R"({"data.currency": {"exists": true}})"));
    EXPECT_TRUE(matches(R"({"data.note": {"exists": true}})"));
    EXPECT_FALSE(matches(R"({"data.missing": {"exists": true}})"));
    EXPECT_TRUE(matches(R"({"data.missing": {"exists": false}})"));
    EXPECT_FALSE(matches(R"({"data.currency": {"exists": false}})"));
}

TEST_F(filter_test, numeric_comparisons)
{
    EXPECT_TRUE(matches(R"({"data.amount": {"gt": 1499}})"));
    EXPECT_FALSE(matches(R"({"data.amount": {"gt": 1500}})"));
    EXPECT_TRUE(matches(R"({"data.amount": {"gte": 1500}})"));
    EXPECT_TRUE(matches(R"({"data.amount": {"lt": 1500.5}})"));
    EXPECT_FALSE(matches(R"({"data.amount": {"lt": 1500}})"));
    EXPECT_TRUE(matches(R"({"data.amount": {"lte": 1500}})"));
    EXPECT_TRUE(matches(R"({"data.ratio": {"gt": 0.2, "lt": 0.3}})"));
    EXPECT_TRUE(matches(R"({"data.big": {"gt": 9223372036854775807}})"));
    EXPECT_TRUE(matches(R"({"data.big": {"gt": -5}})"));
}

TEST_F(filter_test, comparisons_do_not_hold_for_non_numbers)
{
    EXPECT_FALSE(matches(R"({"data.count": {"gte": 0}})"));
    EXPECT_FALSE(matches(R"({"data.count": {"lt": 100}})"));
    EXPECT_FALSE(matches(R"({"data.missing": {"lt": 100}})"));
}

TEST_F(filter_test, several_operators_on_one_path_all_must_hold)
{
    EXPECT_TRUE(matches(R"({"data.amount": {"gte": 100, "lt": 10000}})"));
    EXPECT_FALSE(matches(R"({"data.amount": {"gte": 100, "lt": 1000}})"));
}

TEST_F(filter_test, prefix)
{
    EXPECT_TRUE(matches(R"({"type": {"prefix": "order."}})"));
    EXPECT_FALSE(matches(R"({"type": {"prefix": "payment."}})"));
    EXPECT_FALSE(matches(R"({"data.amount": {"prefix": "15"}})"));
    EXPECT_TRUE(matches(R"({"type": {"prefix": ""}})"));
}

TEST_F(filter_test, array_index_segments)
{
    EXPECT_TRUE(matches(R"({"data.items.0.sku": "SKU-1"})"));
    EXPECT_TRUE(matches(R"({"data.items.1.sku": {"prefix": "X-"}})"));
    EXPECT_FALSE(matches(R"({"data.items.2.sku": {"exists": true}})"));
    EXPECT_FALSE(matches(R"({"data.items.01.sku": {"exists": true}})"));
    EXPECT_TRUE(matches(R"({"data.byindex.0": "zero"})"));
}

TEST_F(filter_test, json_pointer_paths_reach_unusual_names)
{
    EXPECT_TRUE(matches(R"({"/data/a.b": "dotted"})"));
    EXPECT_TRUE(matches(R"({"/any": "top-level member named any"})"));
    EXPECT_TRUE(matches(R"({"/data/items/0/sku": "SKU-1"})"));
}

TEST_F(filter_test, any_is_or)
{
    EXPECT_TRUE(matches(R"({"any": [{"data.currency": "USD"}, {"data.paid": true}]})"));
    EXPECT_FALSE(matches(R"({"any": [{"data.currency": "USD"}, {"data.paid": false}]})"));
    EXPECT_FALSE(matches(R"({"type": "payment.created", "any": [{"data.paid": true}]})"));
    EXPECT_TRUE(matches(R"({"any": [{"any": [{"data.currency": "GBP"}, {"data.amount": 1500}]}]})"));
}

TEST_F(filter_test, unknown_operator_is_a_problem)
{
    const auto p = problems(R"({"data.amount": {"between": [1, 2]}})");
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0].pointer, "/data.amount/between");
    EXPECT_NE(p[0].message.find("unknown operator"), std::string::npos);
}

TEST_F(filter_test, wrong_operand_types_are_problems)
{
    const auto p = problems(R"({"a": {"gt": "1"}, "b": {"in": []}, "c": {"exists": 1}, "d": {"prefix": 1},
                               "e": [1, 2], "f": {}, "g": {"eq": {"x": 1}}, "h": {"in": [1, [2]]}})");
    std::vector<std::string> pointers;
    for (const auto& x : p)
        pointers.push_back(x.pointer);
    EXPECT_EQ(
        pointers,
        (std::vector<std::string>{"/a/gt", "/b/in", "/c/exists", "/d/prefix", "/e", "/f", "/g/eq", "/h/in/1"})
    );
}

TEST_F(filter_test, bad_paths_and_any_are_problems)
{
    const auto p = problems(R"({"data..x": 1, "": 2, "/a~2": 3, "any": [], "x.": 4})");
    EXPECT_EQ(p.size(), 5u);
    EXPECT_EQ(problems(R"([1])").at(0).pointer, "");
    EXPECT_EQ(problems(R"({"any": [1]})").at(0).pointer, "/any/0");
}

TEST_F(filter_test, nesting_is_capped)
{
    std::string deep = R"({"a": 1})";
    for (int i = 0; i < 9; ++i)
        deep = R"({"any": [)" + deep + "]}";
    const auto p = problems(deep);
    ASSERT_FALSE(p.empty());
}

TEST_F(filter_test, condition_count_is_capped)
{
    relay::subscription::filter_limits limits;
    limits.max_conditions = 2;
    EXPECT_TRUE(filter::parse(R"({"a": 1, "b": 2})", limits));
    EXPECT_FALSE(filter::parse(R"({"a": 1, "b": {"gt": 1, "lt": 3}})", limits));
}

TEST_F(filter_test, invalid_json_text_is_one_problem)
{
    const auto p = problems(R"({"a": )");
    ASSERT_EQ(p.size(), 1u);
    EXPECT_NE(p[0].message.find("invalid JSON"), std::string::npos);
}

TEST_F(filter_test, json_is_the_compact_input_and_defines_equality)
{
    auto a = filter::parse(R"({ "data.amount" : { "gte" : 100 } , "data.x": 0.1 })");
    auto b = filter::parse(R"({"data.amount":{"gte":100},"data.x":0.1})");
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->json(), R"({"data.amount":{"gte":100},"data.x":0.1})");
    EXPECT_EQ(*a, *b);
    auto c = filter::parse(a->json());
    ASSERT_TRUE(c);
    EXPECT_EQ(c->json(), a->json());
}

} // namespace
