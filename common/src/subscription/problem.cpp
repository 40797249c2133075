#include "relay/subscription/problem.hpp"

#include <stdexcept>

namespace relay::subscription {

std::string problem::to_string() const
{
    if (pointer.empty())
        return message;
    return pointer + ": " + message;
}

std::string to_string(const problem_list& problems)
{
    std::string out;
    for (const problem& p : problems) {
        if (!out.empty())
            out += '\n';
        out += p.to_string();
    }
    return out;
}

void throw_exception_from_error(const problem_list& problems, const boost::source_location&)
{
    throw std::invalid_argument(to_string(problems));
}

} // namespace relay::subscription
