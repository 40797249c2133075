// ThreadSanitizer builds only: glibc's C11 threads (thrd_create, mtx_lock, cnd_wait, call_once), which
// Debian's librdkafka uses for all its threads and locks, reach glibc's pthread code through internal calls
// that TSan (clang 14) does not intercept. TSan then never learns about librdkafka's threads (its runtime
// crashes on their first instrumented access) nor about the locks that order our callbacks, so it cannot
// run anything touching Kafka. Linked into every executable of a TSan build, these definitions take
// precedence over glibc's and forward to the pthread functions TSan does intercept. The C11 types are the
// pthread types in glibc (the same cast glibc's own implementation makes).
#include <cerrno>
#include <cstdint>
#include <new>
#include <pthread.h>
#include <threads.h>

namespace {

int to_thrd(int pthread_result)
{
    switch (pthread_result) {
    case 0:
        return thrd_success;
    case ETIMEDOUT:
        return thrd_timedout;
    case EBUSY:
        return thrd_busy;
    case ENOMEM:
        return thrd_nomem;
    default:
        return thrd_error;
    }
}

struct start
{
    thrd_start_t func;
    void* arg;
};

void* run(void* p)
{
    const start s = *static_cast<start*>(p);
    delete static_cast<start*>(p);
    return reinterpret_cast<void*>(static_cast<std::intptr_t>(s.func(s.arg)));
}

pthread_mutex_t* native(mtx_t* m)
{
    return reinterpret_cast<pthread_mutex_t*>(m);
}
pthread_cond_t* native(cnd_t* c)
{
    return reinterpret_cast<pthread_cond_t*>(c);
}

} // namespace

extern "C" {

int thrd_create(thrd_t* thr, thrd_start_t func, void* arg)
{
    auto* s = new (std::nothrow) start{func, arg};
    if (s == nullptr) {
        return thrd_nomem;
    }
    const int rc = pthread_create(thr, nullptr, run, s);
    if (rc != 0) {
        delete s;
    }
    return to_thrd(rc);
}

int thrd_join(thrd_t thr, int* res)
{
    void* ret = nullptr;
    const int rc = pthread_join(thr, &ret);
    if (rc == 0 && res != nullptr) {
        *res = static_cast<int>(reinterpret_cast<std::intptr_t>(ret));
    }
    return to_thrd(rc);
}

thrd_t thrd_current(void)
{
    return pthread_self();
}

int mtx_init(mtx_t* m, int type)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    if ((type & mtx_recursive) != 0) {
        pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    }
    const int rc = pthread_mutex_init(native(m), &attr);
    pthread_mutexattr_destroy(&attr);
    return to_thrd(rc);
}

int mtx_lock(mtx_t* m)
{
    return to_thrd(pthread_mutex_lock(native(m)));
}
int mtx_trylock(mtx_t* m)
{
    return to_thrd(pthread_mutex_trylock(native(m)));
}
int mtx_timedlock(mtx_t* __restrict m, const struct timespec* __restrict t)
{
    return to_thrd(pthread_mutex_timedlock(native(m), t));
}
int mtx_unlock(mtx_t* m)
{
    return to_thrd(pthread_mutex_unlock(native(m)));
}
void mtx_destroy(mtx_t* m)
{
    pthread_mutex_destroy(native(m));
}

int cnd_init(cnd_t* c)
{
    return to_thrd(pthread_cond_init(native(c), nullptr));
}
int cnd_signal(cnd_t* c)
{
    return to_thrd(pthread_cond_signal(native(c)));
}
int cnd_broadcast(cnd_t* c)
{
    return to_thrd(pthread_cond_broadcast(native(c)));
}
int cnd_wait(cnd_t* c, mtx_t* m)
{
    return to_thrd(pthread_cond_wait(native(c), native(m)));
}
int cnd_timedwait(cnd_t* __restrict c, mtx_t* __restrict m, const struct timespec* __restrict t)
{
    return to_thrd(pthread_cond_timedwait(native(c), native(m), t));
}
void cnd_destroy(cnd_t* c)
{
    pthread_cond_destroy(native(c));
}

void call_once(once_flag* flag, void (*func)(void))
{
    pthread_once(reinterpret_cast<pthread_once_t*>(flag), func);
}

} // extern "C"
