#include "relay/delivery/retry_after.hpp"

#include <array>
#include <cstdint>

namespace relay::delivery {
namespace {

constexpr std::array<std::string_view, 7> short_days = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> long_days = {
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
};
constexpr std::array<std::string_view, 12> months = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

char lower(char c) noexcept
{
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

// A cursor over the value; every reader consumes only on success.
class cursor
{
public:
    explicit cursor(std::string_view s) noexcept
        : s_(s)
    {}

    bool done() const noexcept { return pos_ == s_.size(); }

    bool literal(char c) noexcept
    {
        if (pos_ < s_.size() && s_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }

    bool literal(std::string_view text) noexcept
    {
        if (s_.substr(pos_, text.size()) == text) {
            pos_ += text.size();
            return true;
        }
        return false;
    }

    // Exactly `n` digits.
    bool digits(std::size_t n, int& out) noexcept
    {
        if (pos_ + n > s_.size())
            return false;
        int v = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const char c = s_[pos_ + i];
            if (c < '0' || c > '9')
                return false;
            v = v * 10 + (c - '0');
        }
        pos_ += n;
        out = v;
        return true;
    }

    // One of `names`, case-insensitively; the index in `index`.
    template <std::size_t N>
    bool name(const std::array<std::string_view, N>& names, std::size_t& index) noexcept
    {
        for (std::size_t i = 0; i < N; ++i) {
            if (iequals(s_.substr(pos_, names[i].size()), names[i])) {
                pos_ += names[i].size();
                index = i;
                return true;
            }
        }
        return false;
    }

private:
    std::string_view s_;
    std::size_t pos_ = 0;
};

struct date_time
{
    int year = 0;
    unsigned month = 0; // 1..12
    int day = 0;
    int hour = 0;
    int minute = 0;
    int second = 0;
};

bool time_of_day(cursor& c, date_time& t) noexcept
{
    return c.digits(2, t.hour) && c.literal(':') && c.digits(2, t.minute) && c.literal(':') &&
           c.digits(2, t.second);
}

bool read_month(cursor& c, date_time& t) noexcept
{
    std::size_t m = 0;
    if (!c.name(months, m))
        return false;
    t.month = static_cast<unsigned>(m) + 1;
    return true;
}

// IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
bool imf_fixdate(std::string_view s, date_time& t) noexcept
{
    cursor c(s);
    std::size_t dow = 0;
    return c.name(short_days, dow) && c.literal(", ") && c.digits(2, t.day) && c.literal(' ') &&
           read_month(c, t) && c.literal(' ') && c.digits(4, t.year) && c.literal(' ') && time_of_day(c, t) &&
           c.literal(" GMT") && c.done();
}

// RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
bool rfc850(std::string_view s, date_time& t) noexcept
{
    cursor c(s);
    std::size_t dow = 0;
    return c.name(long_days, dow) && c.literal(", ") && c.digits(2, t.day) && c.literal('-') &&
           read_month(c, t) && c.literal('-') && c.digits(2, t.year) && c.literal(' ') && time_of_day(c, t) &&
           c.literal(" GMT") && c.done();
}

// asctime: Sun Nov  6 08:49:37 1994 (day padded with a space) or Sun Nov 06 08:49:37 1994
bool asctime(std::string_view s, date_time& t) noexcept
{
    cursor c(s);
    std::size_t dow = 0;
    if (!c.name(short_days, dow) || !c.literal(' ') || !read_month(c, t) || !c.literal(' '))
        return false;
    if (c.literal(' ')) {
        if (!c.digits(1, t.day))
            return false;
    } else if (!c.digits(2, t.day)) {
        return false;
    }
    return c.literal(' ') && time_of_day(c, t) && c.literal(' ') && c.digits(4, t.year) && c.done();
}

std::optional<std::chrono::sys_seconds> to_sys_seconds(const date_time& t) noexcept
{
    using namespace std::chrono;
    const year_month_day ymd{year{t.year}, month{t.month}, day{static_cast<unsigned>(t.day)}};
    // 60 is a leap second (RFC 9110 allows it in the grammar).
    if (!ymd.ok() || t.hour > 23 || t.minute > 59 || t.second > 60)
        return std::nullopt;
    return sys_days{ymd} + hours{t.hour} + minutes{t.minute} + seconds{t.second};
}

std::string_view trim(std::string_view s) noexcept
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

} // namespace

std::optional<std::chrono::seconds>
parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now) noexcept
{
    using namespace std::chrono;
    value = trim(value);
    if (value.empty())
        return std::nullopt;

    if (value.front() >= '0' && value.front() <= '9') {
        std::int64_t n = 0;
        for (char c : value) {
            if (c < '0' || c > '9')
                return std::nullopt;
            if (n < max_retry_after.count())
                n = n * 10 + (c - '0');
        }
        return seconds{std::min<std::int64_t>(n, max_retry_after.count())};
    }

    date_time t;
    if (rfc850(value, t)) {
        // RFC 9110 5.6.7: a two-digit year more than 50 years in the future is the most recent past year with
        // those last two digits.
        const int this_year = static_cast<int>(year_month_day{floor<days>(now)}.year());
        int y = this_year - this_year % 100 + t.year;
        if (y > this_year + 50)
            y -= 100;
        t.year = y;
    } else if (!imf_fixdate(value, t) && !asctime(value, t)) {
        return std::nullopt;
    }
    const auto when = to_sys_seconds(t);
    if (!when)
        return std::nullopt;
    // In whole seconds: converting a far-future date to the clock's nanoseconds would overflow. when -
    // floor(now) is the delay rounded up, since retrying a fraction of a second early would hit the same
    // refusal.
    const auto delta = *when - floor<seconds>(now);
    if (delta <= seconds{0})
        return seconds{0};
    return std::min(delta, max_retry_after);
}

} // namespace relay::delivery
