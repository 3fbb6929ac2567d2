/* The record format of the logs and the journal (see store.h): each record
 * "<type> <length> <crc32>\n" followed by <length> bytes. Pure functions
 * over bytes; the store owns the files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct record {
        char type;
        const char *payload;
        size_t len;
        size_t next;            /* where the next record starts */
        size_t crc_at;          /* where the CRC's digits are */
};

/* Writing: eight lower-case hex digits of v at at (a CRC set in place), a
 * header, a whole record. */
void record_put_hex8(char *at, uint32_t v);
void record_header_put(buf *out, char type, size_t len, uint32_t crc);
void record_build(buf *out, char type, const char *p1, size_t n1, const char *p2, size_t n2);

/* Reading: the numbers of a header, parsed within it; a record's header
 * alone, or the whole record with its CRC checked. */
const char *record_parse_size(const char *p, const char *end, size_t *ret);
const char *record_parse_hex(const char *p, const char *end, size_t digits, uint64_t *ret);
bool record_header(const char *data, size_t n, size_t pos, struct record *ret);
bool record_parse(const char *data, size_t n, size_t pos, uint32_t seed, struct record *ret);
