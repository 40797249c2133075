#include "fake_dns.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <map>
#include <mutex>
#include <netdb.h>
#include <netinet/in.h>
#include <set>
#include <sys/socket.h>

namespace relay_test::fake_dns {
namespace {

struct entry
{
    std::vector<std::vector<std::string>> answers;
    std::size_t lookups = 0;
};

struct state
{
    std::mutex mutex;
    std::map<std::string, entry, std::less<>> names;
    std::set<addrinfo*> ours; // lists this file allocated, so freeaddrinfo frees them itself
};

state& global()
{
    static state s;
    return s;
}

// One allocation per list node: the addrinfo and the address it points to.
struct node
{
    addrinfo info;
    sockaddr_storage address;
};

addrinfo* make_node(const std::string& text, std::uint16_t port, const addrinfo* hints)
{
    auto* n = static_cast<node*>(std::calloc(1, sizeof(node)));
    if (n == nullptr)
        return nullptr;
    n->info.ai_socktype = hints != nullptr && hints->ai_socktype != 0 ? hints->ai_socktype : SOCK_STREAM;
    n->info.ai_protocol = hints != nullptr ? hints->ai_protocol : 0;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&n->address);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&n->address);
    if (::inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        n->info.ai_family = AF_INET;
        n->info.ai_addrlen = sizeof(sockaddr_in);
    } else if (::inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        n->info.ai_family = AF_INET6;
        n->info.ai_addrlen = sizeof(sockaddr_in6);
    } else {
        std::free(n);
        std::abort(); // a typo in a test's table
    }
    n->info.ai_addr = reinterpret_cast<sockaddr*>(&n->address);
    return &n->info;
}

void free_list(addrinfo* list)
{
    while (list != nullptr) {
        auto* next = list->ai_next;
        std::free(list); // the node starts with its addrinfo
        list = next;
    }
}

template <class Fn>
Fn next_symbol(const char* name)
{
    return reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
}

} // namespace

void set(const std::string& name, std::vector<std::vector<std::string>> answers)
{
    auto& s = global();
    const std::lock_guard lock(s.mutex);
    s.names[name] = entry{std::move(answers), 0};
}

std::size_t lookups(const std::string& name)
{
    auto& s = global();
    const std::lock_guard lock(s.mutex);
    const auto it = s.names.find(name);
    return it == s.names.end() ? 0 : it->second.lookups;
}

void clear()
{
    auto& s = global();
    const std::lock_guard lock(s.mutex);
    s.names.clear();
}

} // namespace relay_test::fake_dns

using relay_test::fake_dns::global;

extern "C" int getaddrinfo(const char* host, const char* service, const addrinfo* hints, addrinfo** result)
{
    std::vector<std::string> answer;
    bool faked = false;
    if (host != nullptr) {
        auto& s = global();
        const std::lock_guard lock(s.mutex);
        if (const auto it = s.names.find(std::string_view(host));
            it != s.names.end() && !it->second.answers.empty()) {
            auto& e = it->second;
            answer = e.answers[std::min(e.lookups, e.answers.size() - 1)];
            ++e.lookups;
            faked = true;
        }
    }
    if (!faked) {
        using fn = int (*)(const char*, const char*, const addrinfo*, addrinfo**);
        static const auto real = relay_test::fake_dns::next_symbol<fn>("getaddrinfo");
        return real(host, service, hints, result);
    }
    const int family = hints != nullptr ? hints->ai_family : AF_UNSPEC;
    const auto port = static_cast<std::uint16_t>(service != nullptr ? std::atoi(service) : 0);
    addrinfo* head = nullptr;
    addrinfo** tail = &head;
    for (const auto& text : answer) {
        auto* n = relay_test::fake_dns::make_node(text, port, hints);
        if (n == nullptr) {
            relay_test::fake_dns::free_list(head);
            return EAI_MEMORY;
        }
        if (family != AF_UNSPEC && n->ai_family != family) {
            relay_test::fake_dns::free_list(n);
            continue;
        }
        *tail = n;
        tail = &n->ai_next;
    }
    if (head == nullptr)
        return EAI_NONAME;
    auto& s = global();
    const std::lock_guard lock(s.mutex);
    s.ours.insert(head);
    *result = head;
    return 0;
}

extern "C" void freeaddrinfo(addrinfo* list)
{
    {
        auto& s = global();
        const std::lock_guard lock(s.mutex);
        if (s.ours.erase(list) == 1) {
            relay_test::fake_dns::free_list(list);
            return;
        }
    }
    using fn = void (*)(addrinfo*);
    static const auto real = relay_test::fake_dns::next_symbol<fn>("freeaddrinfo");
    real(list);
}
