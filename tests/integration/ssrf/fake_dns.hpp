#pragma once

// A resolver override for tests: this executable defines getaddrinfo/freeaddrinfo itself, so every lookup of
// the process (Asio's resolver included) comes here first. Names registered with fake_dns::set get the given
// answers; every other name goes to the system resolver. The outbound client has no resolver hook of its own,
// so this is how tests make a name resolve to a metadata or private address, or change between lookups.

#include <cstddef>
#include <string>
#include <vector>

namespace relay_test::fake_dns {

/// Makes `name` resolve: the n-th lookup (from 0) returns answers[min(n, answers.size() - 1)], each a list of
/// IP address texts ("169.254.169.254", "fd00:ec2::254"); the port is the service asked for, as with real
/// DNS. An empty list is "no such name" (EAI_NONAME). Resets the lookup count of `name`. Thread-safe.
void set(const std::string& name, std::vector<std::vector<std::string>> answers);

/// How many times `name` was looked up since set(). Thread-safe.
std::size_t lookups(const std::string& name);

/// Forgets every registered name. Thread-safe.
void clear();

} // namespace relay_test::fake_dns
