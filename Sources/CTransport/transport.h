#ifndef CTRANSPORT_H
#define CTRANSPORT_H

// The byte stream under RWLock's connections: TCP or a unix socket, with
// TLS from OpenSSL (Debian's libssl-dev) when asked. hiredis stays the
// protocol codec (its reader and command formatter); this is what it no
// longer does itself: connect, read and write, each against an absolute
// deadline on CLOCK_MONOTONIC, on a non-blocking socket.
//
// Only Transport.swift calls into this module. Everything here is a C
// function because Swift cannot import OpenSSL's function-like macros
// (SSL_set_tlsext_host_name, SSL_CTX_set_mode, ...), and keeping the rest
// beside them keeps every OpenSSL pointer on this side of the boundary.
//
// Threads: a ctransport_tls (an SSL_CTX) is shared by every connection of a
// client once made, which OpenSSL allows; a connection is used by one
// thread at a time. OpenSSL's error queue is per thread and is cleared
// before every SSL_* call.

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

typedef enum {
    CTRANSPORT_OK = 0,
    CTRANSPORT_TIMEOUT = 1,   // the deadline passed (or, with no wait, nothing was there)
    CTRANSPORT_CLOSED = 2,    // the server closed the connection
    CTRANSPORT_IO = 3,        // an errno-level failure: refused, reset, no route...
    CTRANSPORT_TLS = 4,       // a TLS protocol failure (an alert, a bad record)
    CTRANSPORT_VERIFY = 5,    // the server's certificate failed verification
    CTRANSPORT_CONFIG = 6,    // unusable TLS settings: a CA, certificate or key file
} ctransport_status;

typedef struct {
    const char *ca_file;           // PEM bundle to verify the server with, or NULL
    const char *ca_directory;      // directory of hashed CA certificates, or NULL
    const char *certificate_file;  // client certificate chain (mutual TLS), or NULL
    const char *key_file;          // its private key; NULL: the certificate file
    int verify;                    // 0: no verification at all (insecure)
} ctransport_tls_options;

typedef struct {
    SSL_CTX *context;
    int verify;
} ctransport_tls;

typedef struct {
    int descriptor;
    SSL *ssl;      // NULL on a plain connection
    int failed;    // no close_notify after a fatal error
} ctransport_connection;

/// CLOCK_MONOTONIC in nanoseconds: every deadline is measured on it.
static inline int64_t ctransport_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/// "what: reason (data); reason..." from OpenSSL's error queue, oldest (the
/// root cause) first; drains the queue.
static inline void ctransport_openssl_error(char *error, size_t capacity, const char *what) {
    size_t used = (size_t)snprintf(error, capacity, "%s", what);
    const char *data;
    int flags;
    unsigned long code;
    for (int index = 0; (code = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0; index++) {
        const char *reason = ERR_SYSTEM_ERROR(code) ? strerror(ERR_GET_REASON(code)) : ERR_reason_error_string(code);
        int hasData = (flags & ERR_TXT_STRING) && data && *data;
        if (used < capacity) {
            used += (size_t)snprintf(error + used, capacity - used, "%s%s%s%s%s", index ? "; " : ": ",
                                     reason ? reason : "unknown error", hasData ? " (" : "", hasData ? data : "",
                                     hasData ? ")" : "");
        }
    }
}

/// Waits for `events` until `deadline`: 1 ready, 0 deadline passed, -1 poll
/// failed (errno). EINTR and early wake-ups wait again for what is left.
static inline int ctransport_wait(int descriptor, short events, int64_t deadline) {
    for (;;) {
        int64_t left = deadline - ctransport_now();
        if (left <= 0) return 0;
        struct pollfd entry = {.fd = descriptor, .events = events, .revents = 0};
        int64_t milliseconds = (left + 999999) / 1000000;
        int ready = poll(&entry, 1, milliseconds > INT32_MAX ? INT32_MAX : (int)milliseconds);
        if (ready > 0) return 1;  // POLLERR and POLLHUP too: the next call says what
        if (ready < 0 && errno != EINTR) return -1;
    }
}

/// The shared TLS settings, verifying the server unless `options->verify`
/// is 0: against the CA file or directory when given, else the system's
/// trust store. NULL on failure, with the reason in `error`.
static inline ctransport_tls *ctransport_tls_new(const ctransport_tls_options *options, char *error, size_t capacity) {
    ERR_clear_error();
    SSL_CTX *context = SSL_CTX_new(TLS_client_method());
    if (!context) {
        ctransport_openssl_error(error, capacity, "cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
    // A write the socket took in part is finished later from wherever the
    // caller's buffer then is.
    SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // Read what the socket has in one read(2), not a record header and then
    // its body in two; the bytes read ahead are what ctransport_buffered()
    // reports, so poll(2) is never asked about them.
    SSL_CTX_set_read_ahead(context, 1);
    if (options->verify) {
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, NULL);
        if (options->ca_file || options->ca_directory) {
            if (!SSL_CTX_load_verify_locations(context, options->ca_file, options->ca_directory)) {
                ctransport_openssl_error(error, capacity, "cannot load the CA certificates");
                goto fail;
            }
        } else if (!SSL_CTX_set_default_verify_paths(context)) {
            ctransport_openssl_error(error, capacity, "cannot load the system's trusted certificates");
            goto fail;
        }
    } else {
        SSL_CTX_set_verify(context, SSL_VERIFY_NONE, NULL);
    }
    if (options->certificate_file) {
        if (!SSL_CTX_use_certificate_chain_file(context, options->certificate_file)) {
            ctransport_openssl_error(error, capacity, "cannot load the client certificate");
            goto fail;
        }
        const char *key = options->key_file ? options->key_file : options->certificate_file;
        if (!SSL_CTX_use_PrivateKey_file(context, key, SSL_FILETYPE_PEM)) {
            ctransport_openssl_error(error, capacity, "cannot load the client key");
            goto fail;
        }
        if (!SSL_CTX_check_private_key(context)) {
            ctransport_openssl_error(error, capacity, "the client key does not match the client certificate");
            goto fail;
        }
    }
    ctransport_tls *tls = malloc(sizeof(ctransport_tls));
    if (!tls) goto fail;
    tls->context = context;
    tls->verify = options->verify;
    return tls;
fail:
    SSL_CTX_free(context);
    return NULL;
}

static inline void ctransport_tls_free(ctransport_tls *tls) {
    if (!tls) return;
    SSL_CTX_free(tls->context);
    free(tls);
}

/// Non-blocking and close-on-exec: every wait is a poll against a deadline,
/// and no process this one starts inherits the connection.
static inline int ctransport_prepare(int descriptor) {
    int flags = fcntl(descriptor, F_GETFL);
    if (flags < 0 || fcntl(descriptor, F_SETFL, flags | O_NONBLOCK) < 0) return -1;
    if (fcntl(descriptor, F_SETFD, FD_CLOEXEC) < 0) return -1;
#ifdef SO_NOSIGPIPE
    int one = 1;
    setsockopt(descriptor, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    return 0;
}

/// Connects `descriptor` to `address` before `deadline`; 0 or an errno
/// (ETIMEDOUT for the deadline).
static inline int ctransport_connect_socket(int descriptor, const struct sockaddr *address, socklen_t length, int64_t deadline) {
    if (connect(descriptor, address, length) == 0) return 0;
    if (errno != EINPROGRESS && errno != EAGAIN) return errno;
    int ready = ctransport_wait(descriptor, POLLOUT, deadline);
    if (ready == 0) return ETIMEDOUT;
    if (ready < 0) return errno;
    int failure = 0;
    socklen_t size = sizeof failure;
    if (getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &failure, &size) != 0) return errno;
    return failure;
}

/// Maps a failed SSL call: 1 to wait for `*events` and retry, 0 when it is
/// over, with `*status` and `error` set.
static inline int ctransport_classify(ctransport_connection *connection, int result, short *events,
                                      ctransport_status *status, char *error, size_t capacity, const char *what) {
    int saved = errno;
    switch (SSL_get_error(connection->ssl, result)) {
    case SSL_ERROR_WANT_READ:
        *events = POLLIN;
        return 1;
    case SSL_ERROR_WANT_WRITE:
        *events = POLLOUT;
        return 1;
    case SSL_ERROR_ZERO_RETURN:
        *status = CTRANSPORT_CLOSED;
        snprintf(error, capacity, "Server closed the connection");
        return 0;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        connection->failed = 1;
        *status = saved ? CTRANSPORT_IO : CTRANSPORT_CLOSED;
        snprintf(error, capacity, "%s", saved ? strerror(saved) : "Server closed the connection");
        return 0;
    case SSL_ERROR_SSL: {
        connection->failed = 1;
        long verification = SSL_get_verify_result(connection->ssl);
        unsigned long last = ERR_peek_last_error();
        if (verification != X509_V_OK) {
            *status = CTRANSPORT_VERIFY;
            snprintf(error, capacity, "%s", X509_verify_cert_error_string(verification));
            ERR_clear_error();
        } else if (ERR_GET_LIB(last) == ERR_LIB_SSL && ERR_GET_REASON(last) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            // A TCP EOF without close_notify: how redis-server ends a connection.
            *status = CTRANSPORT_CLOSED;
            ERR_clear_error();
            snprintf(error, capacity, "Server closed the connection");
        } else {
            *status = CTRANSPORT_TLS;
            ctransport_openssl_error(error, capacity, what);
        }
        return 0;
    }
    default:
        connection->failed = 1;
        *status = CTRANSPORT_TLS;
        ctransport_openssl_error(error, capacity, what);
        return 0;
    }
}

static inline int ctransport_is_ip_literal(const char *host) {
    unsigned char buffer[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buffer) == 1 || inet_pton(AF_INET6, host, buffer) == 1;
}

/// The TLS handshake on a connected socket. `name` is what the certificate
/// must name (an IP address or a DNS name; a DNS name is also sent as SNI).
static inline ctransport_status ctransport_handshake(ctransport_connection *connection, ctransport_tls *tls,
                                                     const char *name, int64_t deadline, char *error, size_t capacity) {
    ERR_clear_error();
    connection->ssl = SSL_new(tls->context);
    if (!connection->ssl || !SSL_set_fd(connection->ssl, connection->descriptor)) {
        ctransport_openssl_error(error, capacity, "cannot start TLS");
        return CTRANSPORT_TLS;
    }
    int ip = ctransport_is_ip_literal(name);
    // SNI names a host, never an address (RFC 6066).
    if (!ip && !SSL_set_tlsext_host_name(connection->ssl, name)) {
        ctransport_openssl_error(error, capacity, "cannot set the server name (SNI)");
        return CTRANSPORT_CONFIG;
    }
    if (tls->verify) {
        int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(connection->ssl), name)
                     : SSL_set1_host(connection->ssl, name);
        if (!set) {
            ctransport_openssl_error(error, capacity, "cannot set the name to verify");
            return CTRANSPORT_CONFIG;
        }
        if (!ip) SSL_set_hostflags(connection->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    }
    for (;;) {
        ERR_clear_error();
        int result = SSL_connect(connection->ssl);
        if (result == 1) return CTRANSPORT_OK;
        short events = 0;
        ctransport_status status = CTRANSPORT_OK;
        if (!ctransport_classify(connection, result, &events, &status, error, capacity, "TLS handshake failed")) {
            return status;
        }
        int ready = ctransport_wait(connection->descriptor, events, deadline);
        if (ready == 0) {
            connection->failed = 1;
            snprintf(error, capacity, "the TLS handshake did not finish in time (is the port a TLS port?)");
            return CTRANSPORT_TIMEOUT;
        }
        if (ready < 0) {
            connection->failed = 1;
            snprintf(error, capacity, "%s", strerror(errno));
            return CTRANSPORT_IO;
        }
    }
}

static inline void ctransport_close(ctransport_connection *connection) {
    if (!connection) return;
    if (connection->ssl) {
        ERR_clear_error();
        // One try at close_notify, never waiting for the server's; not after
        // a fatal error, where OpenSSL forbids it.
        if (!connection->failed && SSL_is_init_finished(connection->ssl)) (void)SSL_shutdown(connection->ssl);
        ERR_clear_error();
        SSL_free(connection->ssl);
    }
    if (connection->descriptor >= 0) close(connection->descriptor);
    free(connection);
}

/// Connects to `host`:`port` before `deadline`, then, with `tls`, completes
/// the TLS handshake verifying `name` (the host when NULL). NULL on
/// failure, with `*status` and the reason in `error`.
static inline ctransport_connection *ctransport_connect_tcp(const char *host, int port, ctransport_tls *tls, const char *name,
                                                            int64_t deadline, ctransport_status *status, char *error,
                                                            size_t capacity) {
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo *addresses = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int resolved = getaddrinfo(host, service, &hints, &addresses);
    if (resolved != 0) {
        *status = CTRANSPORT_IO;
        snprintf(error, capacity, "%s", gai_strerror(resolved));
        return NULL;
    }
    int descriptor = -1, failure = 0;
    for (struct addrinfo *address = addresses; address; address = address->ai_next) {
        descriptor = socket(address->ai_family, address->ai_socktype, address->ai_protocol);
        if (descriptor < 0) {
            failure = errno;
            continue;
        }
        if (ctransport_prepare(descriptor) == 0) {
            failure = ctransport_connect_socket(descriptor, address->ai_addr, address->ai_addrlen, deadline);
            if (failure == 0) break;
        } else {
            failure = errno;
        }
        close(descriptor);
        descriptor = -1;
        if (failure == ETIMEDOUT) break;
    }
    freeaddrinfo(addresses);
    if (descriptor < 0) {
        *status = failure == ETIMEDOUT ? CTRANSPORT_TIMEOUT : CTRANSPORT_IO;
        snprintf(error, capacity, "%s", strerror(failure ? failure : ECONNREFUSED));
        return NULL;
    }
    int one = 1;
    setsockopt(descriptor, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ctransport_connection *connection = calloc(1, sizeof(ctransport_connection));
    if (!connection) {
        close(descriptor);
        *status = CTRANSPORT_IO;
        snprintf(error, capacity, "%s", strerror(ENOMEM));
        return NULL;
    }
    connection->descriptor = descriptor;
    if (tls) {
        *status = ctransport_handshake(connection, tls, name ? name : host, deadline, error, capacity);
        if (*status != CTRANSPORT_OK) {
            connection->failed = 1;
            ctransport_close(connection);
            return NULL;
        }
    }
    *status = CTRANSPORT_OK;
    return connection;
}

/// Connects to the unix socket at `path` before `deadline`.
static inline ctransport_connection *ctransport_connect_unix(const char *path, int64_t deadline, ctransport_status *status,
                                                             char *error, size_t capacity) {
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof address.sun_path) {
        *status = CTRANSPORT_IO;
        snprintf(error, capacity, "%s", strerror(ENAMETOOLONG));
        return NULL;
    }
    strcpy(address.sun_path, path);
    int descriptor = socket(AF_UNIX, SOCK_STREAM, 0);
    int failure = descriptor < 0 ? errno : 0;
    if (descriptor >= 0) {
        failure = ctransport_prepare(descriptor) == 0
            ? ctransport_connect_socket(descriptor, (struct sockaddr *)&address, sizeof address, deadline) : errno;
    }
    if (failure != 0) {
        if (descriptor >= 0) close(descriptor);
        *status = failure == ETIMEDOUT ? CTRANSPORT_TIMEOUT : CTRANSPORT_IO;
        snprintf(error, capacity, "%s", strerror(failure));
        return NULL;
    }
    ctransport_connection *connection = calloc(1, sizeof(ctransport_connection));
    if (!connection) {
        close(descriptor);
        *status = CTRANSPORT_IO;
        snprintf(error, capacity, "%s", strerror(ENOMEM));
        return NULL;
    }
    connection->descriptor = descriptor;
    *status = CTRANSPORT_OK;
    return connection;
}

/// Writes all `length` bytes before `deadline`, looping over partial writes.
static inline ctransport_status ctransport_write(ctransport_connection *connection, const void *bytes, size_t length,
                                                 int64_t deadline, char *error, size_t capacity) {
    const char *next = bytes;
    while (length > 0) {
        short events = POLLOUT;
        if (connection->ssl) {
            size_t written = 0;
            ERR_clear_error();
            int result = SSL_write_ex(connection->ssl, next, length, &written);
            if (result == 1) {
                next += written;
                length -= written;
                continue;
            }
            ctransport_status status = CTRANSPORT_OK;
            if (!ctransport_classify(connection, result, &events, &status, error, capacity, "TLS write failed")) return status;
        } else {
            int flags = 0;
#ifdef MSG_NOSIGNAL
            flags = MSG_NOSIGNAL;
#endif
            ssize_t written = send(connection->descriptor, next, length, flags);
            if (written > 0) {
                next += written;
                length -= (size_t)written;
                continue;
            }
            if (written < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                connection->failed = 1;
                snprintf(error, capacity, "%s", strerror(errno));
                return CTRANSPORT_IO;
            }
        }
        int ready = ctransport_wait(connection->descriptor, events, deadline);
        if (ready == 0) return CTRANSPORT_TIMEOUT;
        if (ready < 0) {
            connection->failed = 1;
            snprintf(error, capacity, "%s", strerror(errno));
            return CTRANSPORT_IO;
        }
    }
    return CTRANSPORT_OK;
}

/// Reads what is there, up to `capacity_bytes`, waiting until `deadline` for
/// at least one byte. A deadline already past looks once without waiting:
/// CTRANSPORT_TIMEOUT then means nothing was there yet.
static inline ctransport_status ctransport_read(ctransport_connection *connection, void *bytes, size_t capacity_bytes,
                                                size_t *count, int64_t deadline, char *error, size_t capacity) {
    *count = 0;
    for (;;) {
        short events = POLLIN;
        if (connection->ssl) {
            ERR_clear_error();
            int result = SSL_read_ex(connection->ssl, bytes, capacity_bytes, count);
            if (result == 1) return CTRANSPORT_OK;
            ctransport_status status = CTRANSPORT_OK;
            if (!ctransport_classify(connection, result, &events, &status, error, capacity, "TLS read failed")) return status;
        } else {
            ssize_t got = recv(connection->descriptor, bytes, capacity_bytes, 0);
            if (got > 0) {
                *count = (size_t)got;
                return CTRANSPORT_OK;
            }
            if (got == 0) {
                snprintf(error, capacity, "Server closed the connection");
                return CTRANSPORT_CLOSED;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                connection->failed = 1;
                snprintf(error, capacity, "%s", strerror(errno));
                return CTRANSPORT_IO;
            }
        }
        int ready = ctransport_wait(connection->descriptor, events, deadline);
        if (ready == 0) return CTRANSPORT_TIMEOUT;
        if (ready < 0) {
            connection->failed = 1;
            snprintf(error, capacity, "%s", strerror(errno));
            return CTRANSPORT_IO;
        }
    }
}

/// Bytes TLS has already decrypted (or read ahead), which poll(2) on the
/// socket cannot see.
static inline int ctransport_buffered(const ctransport_connection *connection) {
    return connection->ssl && (SSL_pending(connection->ssl) > 0 || SSL_has_pending(connection->ssl));
}

static inline int ctransport_descriptor(const ctransport_connection *connection) { return connection->descriptor; }

/// Whether an idle connection (no command outstanding) is still usable:
/// CTRANSPORT_OK, or why not. A plain one is finished once anything is
/// readable (EOF, an error); a TLS 1.3 one is readable right after the
/// handshake (the server's session tickets), so one read without waiting
/// tells: no application data means it is fine.
static inline ctransport_status ctransport_check_idle(ctransport_connection *connection, char *error, size_t capacity) {
    struct pollfd entry = {.fd = connection->descriptor, .events = POLLIN, .revents = 0};
    if (!ctransport_buffered(connection) && poll(&entry, 1, 0) <= 0) return CTRANSPORT_OK;
    if (!connection->ssl) {
        snprintf(error, capacity, "Server closed the connection");
        return CTRANSPORT_CLOSED;
    }
    char byte;
    size_t count = 0;
    ctransport_status status = ctransport_read(connection, &byte, 1, &count, 0, error, capacity);
    if (status == CTRANSPORT_TIMEOUT) return CTRANSPORT_OK;
    if (status == CTRANSPORT_OK) {
        snprintf(error, capacity, "unexpected data from the server on an idle connection");
        return CTRANSPORT_TLS;
    }
    return status;
}

#endif
