/* Block-at-a-time scanning for the parser's longest runs: field values and
 * request targets. Sixteen bytes at once with SSE2 (part of the x86-64
 * baseline, so every x86-64 wheel has it), eight at once with portable SWAR
 * arithmetic elsewhere. A block that may hold a byte outside the class is
 * resolved over the lookup table, which stays the single definition of the
 * class. */
#ifndef HOPWIRE_SCAN_H
#define HOPWIRE_SCAN_H

#include <stdint.h>
#include <string.h>
#include <Python.h>
#if defined(__SSE2__) || defined(_M_X64) || defined(_M_AMD64)
#include <emmintrin.h>
#define HW_SSE2 1
#endif

#if defined(_MSC_VER)
#include <intrin.h>
static inline int hw_ctz(unsigned int x)
{
    unsigned long r;
    _BitScanForward(&r, x);
    return (int)r;
}
#else
#define hw_ctz(x) __builtin_ctz(x)
#endif

#define HW_ONES  0x0101010101010101ULL
#define HW_HIGHS 0x8080808080808080ULL

/* Nonzero when some byte of x is below n (n <= 128); may err only towards nonzero. */
#define HW_HAS_LESS(x, n) (((x) - HW_ONES * (n)) & ~(x) & HW_HIGHS)
#define HW_HAS_ZERO(x) (((x) - HW_ONES) & ~(x) & HW_HIGHS)

/* The next eight bytes (fewer before `stop`) walked over the table: the first
 * byte outside the class, or the end of those eight. */
static inline Py_ssize_t hw_table_word(const unsigned char *p, Py_ssize_t i, Py_ssize_t stop,
                                       const unsigned char *table)
{
    Py_ssize_t end = i + 8 < stop ? i + 8 : stop;
    while (i < end && table[p[i]])
        i++;
    return i;
}

/* Field value bytes: HTAB, SP..0x7E, 0x80..0xFF. The word test flags any
 * control byte (HTAB included, so that word is walked by the table). */
static inline Py_ssize_t hw_value_run(const unsigned char *p, Py_ssize_t i, Py_ssize_t stop,
                                      const unsigned char *table)
{
#ifdef HW_SSE2
    const __m128i ctl = _mm_set1_epi8(0x1F), del = _mm_set1_epi8(0x7F);
    while (i + 16 <= stop) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
        /* v <= 0x1F (unsigned) or v == 0x7F */
        __m128i bad = _mm_or_si128(_mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl), _mm_cmpeq_epi8(v, del));
        int mask = _mm_movemask_epi8(bad);
        if (mask == 0) {
            i += 16;
            continue;
        }
        while (mask) {  /* HTAB is the one control byte a value may hold */
            int k = hw_ctz(mask);
            if (!table[p[i + k]])
                return i + k;
            mask &= mask - 1;
        }
        i += 16;
    }
#endif
    for (;;) {
        while (i + 8 <= stop) {
            uint64_t x, y;
            memcpy(&x, p + i, 8);
            y = x ^ (HW_ONES * 0x7F);
            if (HW_HAS_LESS(x, 0x20) | HW_HAS_ZERO(y))
                break;
            i += 8;
        }
        Py_ssize_t j = hw_table_word(p, i, stop, table);
        if (j < i + 8 || j >= stop)
            return j;
        i = j;
    }
}

/* Request-target bytes: 0x21..0x7E. */
static inline Py_ssize_t hw_target_run(const unsigned char *p, Py_ssize_t i, Py_ssize_t stop,
                                       const unsigned char *table)
{
#ifdef HW_SSE2
    const __m128i sp = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7F);
    while (i + 16 <= stop) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
        /* v <= 0x20 or v >= 0x7F (unsigned) */
        __m128i bad = _mm_or_si128(_mm_cmpeq_epi8(_mm_max_epu8(v, sp), sp),
                                   _mm_cmpeq_epi8(_mm_max_epu8(v, del), v));
        int mask = _mm_movemask_epi8(bad);
        if (mask)
            return i + hw_ctz(mask);
        i += 16;
    }
#endif
    for (;;) {
        while (i + 8 <= stop) {
            uint64_t x;
            memcpy(&x, p + i, 8);
            if (HW_HAS_LESS(x, 0x21) | ((x | (x + HW_ONES)) & HW_HIGHS))
                break;
            i += 8;
        }
        Py_ssize_t j = hw_table_word(p, i, stop, table);
        if (j < i + 8 || j >= stop)
            return j;
        i = j;
    }
}

#endif
