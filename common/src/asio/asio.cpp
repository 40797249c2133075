// Asio, Asio.SSL and Beast compiled once for the whole project (BOOST_*_SEPARATE_COMPILATION): every other
// translation unit only sees declarations, which saves minutes per build on small machines.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
