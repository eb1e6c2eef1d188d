#ifndef CHIREDIS_SHIM_H
#define CHIREDIS_SHIM_H

// hiredis (0.14 on Debian 12, 1.x elsewhere) as RWLock's protocol codec:
// its command formatter and its reply reader. The bytes move through
// RWLock's own transport (CTransport), which adds TLS. Only
// HiredisConnection.swift calls into this module. The helper below exists
// because `redisReaderGetError` is a macro and Swift imports
// `char errstr[128]` as a 128-element tuple.

#include <hiredis.h>

/// The reader's NUL-terminated error text; meaningful once it failed.
static inline const char *chiredis_reader_error(const redisReader *reader) { return reader->errstr; }

#endif
