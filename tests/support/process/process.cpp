#include "support/process/process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <linux/close_range.h>
#include <poll.h>
#include <sstream>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <system_error>
#include <thread>
#include <unistd.h>

extern char** environ; // NOLINT(readability-redundant-declaration): POSIX declares it nowhere in C++ headers

namespace relay::test {
namespace {

int open_or_throw(const std::filesystem::path& path, int flags, const char* what)
{
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
    if (fd < 0) {
        throw std::system_error(
            errno, std::generic_category(), std::string("cannot open ") + what + " " + path.string()
        );
    }
    return fd;
}

class fd_guard
{
public:
    explicit fd_guard(int fd = -1) noexcept
        : fd_(fd)
    {}
    ~fd_guard()
    {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    int get() const noexcept { return fd_; }
    void reset(int fd = -1) noexcept
    {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = fd;
    }

private:
    int fd_;
};

std::vector<std::string> build_environment(const process_options& o)
{
    std::vector<std::string> out;
    auto overridden = [&](std::string_view entry) {
        const auto eq = entry.find('=');
        const auto name = entry.substr(0, eq);
        for (const auto& [k, v] : o.env) {
            if (k == name) {
                return true;
            }
        }
        for (const auto& k : o.unset_env) {
            if (k == name) {
                return true;
            }
        }
        return false;
    };
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        if (!overridden(*e)) {
            out.emplace_back(*e);
        }
    }
    for (const auto& [k, v] : o.env) {
        out.push_back(k + "=" + v);
    }
    return out;
}

// Everything in the child between fork and execve is async-signal-safe: the parent is multi-threaded.
[[noreturn]] void run_child(
    pid_t parent,
    int in_fd,
    int out_fd,
    int err_fd,
    int error_pipe,
    int max_fd,
    char* const* argv,
    char* const* envp
) noexcept
{
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) { // the parent died before prctl took effect
        ::_exit(127);
    }
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl
    {};
    dfl.sa_handler = SIG_DFL; // NOLINT(cppcoreguidelines-pro-type-union-access)
    for (int s = 1; s < NSIG; ++s) {
        if (s != SIGKILL && s != SIGSTOP) {
            ::sigaction(s, &dfl, nullptr);
        }
    }
    if (::dup2(in_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0) {
        const int e = errno;
        [[maybe_unused]] const auto n = ::write(error_pipe, &e, sizeof e);
        ::_exit(127);
    }
    // Nothing else leaks into the child (receivers' listening sockets, Kafka connections): every other
    // descriptor closes at exec. The error pipe too, which tells the parent that exec succeeded.
    if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
        for (int fd = 3; fd < max_fd; ++fd) {
            ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        }
    }
    ::execve(argv[0], argv, envp);
    const int e = errno;
    [[maybe_unused]] const auto n = ::write(error_pipe, &e, sizeof e);
    ::_exit(127);
}

exit_status decode(int raw) noexcept
{
    exit_status s;
    if (WIFEXITED(raw)) {
        s.code = WEXITSTATUS(raw);
    } else if (WIFSIGNALED(raw)) {
        s.signal = WTERMSIG(raw);
    }
    return s;
}

} // namespace

std::string exit_status::describe() const
{
    if (signal != 0) {
        const char* name = ::strsignal(signal); // NOLINT(concurrency-mt-unsafe): test diagnostics
        return "signal " + std::to_string(signal) + " (" + (name ? name : "?") + ")";
    }
    return "exit " + std::to_string(code);
}

process::process(const process_options& options)
    : log_file_(options.log_file)
{
    if (options.argv.empty()) {
        throw std::invalid_argument("process: argv is empty");
    }
    fd_guard in(
        open_or_throw(options.stdin_file.empty() ? "/dev/null" : options.stdin_file, O_RDONLY, "stdin")
    );
    fd_guard err(
        options.log_file.empty() ? open_or_throw("/dev/null", O_WRONLY, "log")
                                 : open_or_throw(options.log_file, O_WRONLY | O_CREAT | O_APPEND, "log file")
    );
    fd_guard out(
        options.stdout_file.empty()
            ? ::fcntl(err.get(), F_DUPFD_CLOEXEC, 0)
            : open_or_throw(options.stdout_file, O_WRONLY | O_CREAT | O_TRUNC, "stdout file")
    );
    if (out.get() < 0) {
        throw std::system_error(errno, std::generic_category(), "process: dup");
    }

    std::vector<std::string> args = options.argv;
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    std::vector<std::string> env = build_environment(options);
    std::vector<char*> envp;
    for (auto& e : env) {
        envp.push_back(e.data());
    }
    envp.push_back(nullptr);

    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        throw std::system_error(errno, std::generic_category(), "process: pipe2");
    }
    fd_guard pipe_read(pipe_fds[0]);
    fd_guard pipe_write(pipe_fds[1]);
    const long open_max = ::sysconf(_SC_OPEN_MAX);
    const int max_fd = open_max > 0 && open_max < 65536 ? static_cast<int>(open_max) : 65536;
    const pid_t parent = ::getpid();

    const pid_t pid = ::fork();
    if (pid < 0) {
        throw std::system_error(errno, std::generic_category(), "process: fork");
    }
    if (pid == 0) {
        run_child(parent, in.get(), out.get(), err.get(), pipe_write.get(), max_fd, argv.data(), envp.data());
    }
    pid_ = pid;
    pipe_write.reset();
    int child_errno = 0;
    ssize_t n = 0;
    do {
        n = ::read(pipe_read.get(), &child_errno, sizeof child_errno);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(sizeof child_errno)) {
        int raw = 0;
        ::waitpid(pid_, &raw, 0);
        status_ = decode(raw);
        throw std::system_error(child_errno, std::generic_category(), "process: cannot run " + args[0]);
    }
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
}

process::~process()
{
    kill_and_reap();
}

process::process(process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1))
    , pidfd_(std::exchange(other.pidfd_, -1))
    , status_(std::exchange(other.status_, std::nullopt))
    , log_file_(std::move(other.log_file_))
{}

process& process::operator=(process&& other) noexcept
{
    if (this != &other) {
        kill_and_reap();
        pid_ = std::exchange(other.pid_, -1);
        pidfd_ = std::exchange(other.pidfd_, -1);
        status_ = std::exchange(other.status_, std::nullopt);
        log_file_ = std::move(other.log_file_);
    }
    return *this;
}

void process::kill_and_reap() noexcept
{
    if (pid_ > 0 && !status_) {
        ::kill(pid_, SIGKILL);
        try_reap(true);
    }
    if (pidfd_ >= 0) {
        ::close(pidfd_);
        pidfd_ = -1;
    }
}

bool process::try_reap(bool block) noexcept
{
    if (status_) {
        return true;
    }
    if (pid_ <= 0) {
        return false;
    }
    int raw = 0;
    pid_t r = 0;
    do {
        r = ::waitpid(pid_, &raw, block ? 0 : WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == pid_) {
        status_ = decode(raw);
        return true;
    }
    if (r < 0) { // ECHILD: reaped elsewhere; nothing more can be learnt
        status_ = exit_status{};
        return true;
    }
    return false;
}

bool process::send_signal(int sig) noexcept
{
    if (pid_ <= 0 || status_) {
        return false;
    }
    return ::kill(pid_, sig) == 0;
}

std::optional<exit_status> process::wait_for_exit(std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!try_reap(false)) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now()
        );
        if (left.count() <= 0) {
            return std::nullopt;
        }
        if (pidfd_ >= 0) {
            pollfd p{.fd = pidfd_, .events = POLLIN, .revents = 0};
            ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1000)));
        } else {
            std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(10)));
        }
    }
    return status_;
}

bool process::running()
{
    return !try_reap(false);
}

std::filesystem::path relay_binary()
{
    const char* dir = std::getenv("RELAY_TEST_BINARY_DIR"); // NOLINT(concurrency-mt-unsafe): read-only
    if (dir == nullptr || *dir == '\0') {
        throw std::runtime_error("RELAY_TEST_BINARY_DIR is not set: run this test through ctest");
    }
    auto path = std::filesystem::path(dir) / "relay" / "relay";
    if (!std::filesystem::exists(path)) {
        throw std::runtime_error(path.string() + " does not exist: build the `relay` target first");
    }
    return path;
}

bool wait_for_log(
    const std::filesystem::path& path,
    std::string_view needle,
    std::chrono::milliseconds timeout,
    process* watched,
    std::uintmax_t from
)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string window; // unread tail that may hold the start of the needle
    std::uintmax_t pos = from;
    std::ifstream in;
    for (;;) {
        // Check the file before looking at the process, so output written just before it exited counts.
        const bool ended = watched != nullptr && !watched->running();
        if (!in.is_open()) {
            in.open(path, std::ios::binary);
        }
        if (in.is_open()) {
            in.clear();
            in.seekg(static_cast<std::streamoff>(pos));
            std::string chunk(64 * 1024, '\0');
            while (in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in.gcount() > 0) {
                const auto got = static_cast<std::size_t>(in.gcount());
                pos += got;
                window.append(chunk.data(), got);
                if (window.find(needle) != std::string::npos) {
                    return true;
                }
                if (window.size() > needle.size()) {
                    window.erase(0, window.size() - needle.size());
                }
                if (got < chunk.size()) {
                    break;
                }
            }
        }
        if (ended || std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

std::string read_text_file(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string log_tail(const std::filesystem::path& path, std::size_t lines)
{
    const auto text = read_text_file(path);
    std::size_t start = text.size();
    if (start > 0 && text[start - 1] == '\n') {
        --start;
    }
    std::size_t seen = 0;
    while (start > 0 && seen < lines) {
        const auto nl = text.rfind('\n', start - 1);
        if (nl == std::string::npos) {
            start = 0;
            break;
        }
        ++seen;
        start = seen == lines ? nl + 1 : nl;
    }
    return text.substr(start);
}

std::uintmax_t file_size_or_zero(const std::filesystem::path& path)
{
    std::error_code ec;
    const auto n = std::filesystem::file_size(path, ec);
    return ec ? 0 : n;
}

} // namespace relay::test
