/* Word-at-a-time scanning for the parser's longest runs: field values and
 * request targets. Eight bytes are tested at once with portable SWAR
 * arithmetic (no SIMD: wheels target the baseline CPU); a word that may hold a
 * byte outside the class is walked byte by byte over the lookup table, which
 * stays the single definition of the class. */
#ifndef HOPWIRE_SCAN_H
#define HOPWIRE_SCAN_H

#include <stdint.h>
#include <string.h>
#include <Python.h>

#define HW_ONES  0x0101010101010101ULL
#define HW_HIGHS 0x8080808080808080ULL

/* Nonzero when some byte of x is below n (n <= 128); may err only towards nonzero. */
#define HW_HAS_LESS(x, n) (((x) - HW_ONES * (n)) & ~(x) & HW_HIGHS)
#define HW_HAS_ZERO(x) (((x) - HW_ONES) & ~(x) & HW_HIGHS)

/* Field value bytes: HTAB, SP..0x7E, 0x80..0xFF. The word test flags any
 * control byte (HTAB included, so that word is walked by the table). */
static inline Py_ssize_t hw_value_run(const unsigned char *p, Py_ssize_t i, Py_ssize_t stop,
                                      const unsigned char *table)
{
    for (;;) {
        while (i + 8 <= stop) {
            uint64_t x, y;
            memcpy(&x, p + i, 8);
            y = x ^ (HW_ONES * 0x7F);
            if (HW_HAS_LESS(x, 0x20) | HW_HAS_ZERO(y))
                break;
            i += 8;
        }
        Py_ssize_t end = i + 8 < stop ? i + 8 : stop;
        for (; i < end; i++)
            if (!table[p[i]])
                return i;
        if (i >= stop)
            return i;
    }
}

/* Request-target bytes: 0x21..0x7E. */
static inline Py_ssize_t hw_target_run(const unsigned char *p, Py_ssize_t i, Py_ssize_t stop,
                                       const unsigned char *table)
{
    for (;;) {
        while (i + 8 <= stop) {
            uint64_t x;
            memcpy(&x, p + i, 8);
            if (HW_HAS_LESS(x, 0x21) | ((x | (x + HW_ONES)) & HW_HIGHS))
                break;
            i += 8;
        }
        Py_ssize_t end = i + 8 < stop ? i + 8 : stop;
        for (; i < end; i++)
            if (!table[p[i]])
                return i;
        if (i >= stop)
            return i;
    }
}

#endif
