/* JSON codec: decodes a byte buffer straight into Lua values and encodes Lua values as JSON text.
 * Everything here is static (one translation unit, see cs_core.c) and keeps no mutable global
 * state, so several Lua states may use it on several threads. All scratch memory is owned by Lua
 * (userdata or luaL_Buffer), so a memory error raised mid-way cannot leak. */

#include <float.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CS_JSON_ARRAY_MT "connectstatus.json.array"
#define CS_JSON_DEFAULT_DEPTH 128
/* Container frames live on the C stack up to this depth, then in a growing userdata. */
#define CS_JSON_FIXED_FRAMES 128
/* Values (or key-value pairs) of an open container wait on the Lua stack up to this many slots,
 * then move into its table (see cs_jd_flush). */
#define CS_JSON_PENDING 128
/* Recent member names kept in reserved stack slots (see cs_jd_name); a power of two. */
#define CS_JSON_NAMES 128
#define CS_JSON_NAME_MAX 40

/* Decimal rounding by one multiply or divide is exact only without excess precision. */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define CS_JSON_FAST_FLOAT 1
#else
#define CS_JSON_FAST_FLOAT 0
#endif

#if CS_HAS_INTEGERS
typedef lua_Integer cs_jint;
#else
typedef long long cs_jint;
#endif

/* ---------------------------------------------------------------- shared: string scanning */

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define CS_JSON_CTZ(x) __builtin_ctzll(x)
#endif

#if defined(__GNUC__) && defined(__SSE2__)
#include <emmintrin.h>
#define CS_JSON_SSE2 1
#endif

/* The string scan runs once per string: a call costs as much as scanning a short one. */
#ifdef __GNUC__
#define CS_JSON_INLINE inline __attribute__((always_inline))
#else
#define CS_JSON_INLINE inline
#endif

/* Returns the first byte at or after p that a JSON string cannot hold as is ('"', '\\' or a
 * control character), or end. Eight bytes at a time: the bit tricks set the high bit of each such
 * byte (and maybe of bytes after one, never before one), so the lowest set bit marks the answer. */
static CS_JSON_INLINE const char *cs_json_scan(const char *p, const char *end) {
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
#ifdef CS_JSON_SSE2
    /* sixteen at a time where SSE2 is there (every x86-64): a byte b is a control character
     * when min(b, 0x1F) == b */
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    const __m128i ctl = _mm_set1_epi8(0x1F);
    while (end - p >= 16) {
        __m128i w = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i hit =
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(w, quote), _mm_cmpeq_epi8(w, bslash)),
                         _mm_cmpeq_epi8(_mm_min_epu8(w, ctl), w));
        int m = _mm_movemask_epi8(hit);
        if (m != 0) return p + __builtin_ctz((unsigned)m);
        p += 16;
    }
#endif
    while (end - p >= 8) {
        uint64_t w, q, b, hit;
        memcpy(&w, p, 8);
        q = w ^ (ones * '"');
        b = w ^ (ones * '\\');
        hit = (((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w)) & high;
#ifdef CS_JSON_CTZ
        if (hit != 0) return p + (CS_JSON_CTZ(hit) >> 3);
#else
        if (hit != 0) break;
#endif
        p += 8;
    }
    while (p < end && (unsigned char)*p >= 0x20 && *p != '"' && *p != '\\')
        p++;
    return p;
}

/* ---------------------------------------------------------------- decoder */

/* An open container. Its items wait on the Lua stack above `slot` until it closes, so that its
 * table is made at the exact size; `slot` holds nil until then, or until the items outgrow
 * CS_JSON_PENDING and the table is made early. */
typedef struct {
    int slot;
    int is_array;
    int state;     /* selective frames: the selection state of this container (see cs_js_item) */
    cs_jint moved; /* arrays: items already in the table, so the next index is moved + 1 */
} cs_jframe;

typedef struct {
    const char *s; /* the bytes of the Lua string kept in this entry's stack slot */
    size_t len;
} cs_jname;

typedef struct {
    lua_State *L;
    const char *start;
    const char *p;
    const char *end;
    char *err;
    size_t errlen;
    cs_jframe *frames;
    int depth;
    int cap;
    int max_depth;
    int floor; /* cs_jd_attach's value is complete when depth falls back to this */
    int base;  /* stack top on entry; base + 1 holds spilled frames, then the names */
    const struct cs_selection *sel; /* NULL for a full decode */
    cs_jname names[CS_JSON_NAMES];
} cs_jdec;

static int cs_jd_fail(cs_jdec *d, const char *at, const char *what) {
    snprintf(d->err, d->errlen, "%s at byte %lu", what, (unsigned long)(at - d->start) + 1);
    return 0;
}

static int cs_jd_eof(cs_jdec *d) {
    return cs_jd_fail(d, d->end, "unexpected end of input");
}

/* Names what was expected at d->p, or says the input ended there. */
static int cs_jd_expected(cs_jdec *d, const char *what) {
    if (d->p >= d->end) return cs_jd_eof(d);
    snprintf(d->err, d->errlen, "expected %s at byte %lu", what,
             (unsigned long)(d->p - d->start) + 1);
    return 0;
}

static const char *cs_jd_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static long cs_jd_hex4(const char *p, const char *end) {
    long v = 0;
    int i;
    if (end - p < 4) return -1;
    for (i = 0; i < 4; i++) {
        int c = (unsigned char)p[i];
        if (c >= '0' && c <= '9')
            c -= '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            c = (c | 0x20) - 'a' + 10;
        else
            return -1;
        v = v * 16 + c;
    }
    return v;
}

static size_t cs_utf8(char *u, unsigned long cp) {
    if (cp < 0x80) {
        u[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    u[0] = (char)(0xF0 | (cp >> 18));
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* q is at "\u"; appends the code point as UTF-8 (unless b is NULL: the skipper only validates)
 * and returns the byte after the escape(s). Surrogates must come as a high-low pair: a lone one
 * has no UTF-8 form. */
static const char *cs_jd_unicode(cs_jdec *d, const char *q, luaL_Buffer *b) {
    long cp = cs_jd_hex4(q + 2, d->end), lo;
    char u[4];
    if (d->end - q < 6) return cs_jd_eof(d), NULL;
    if (cp < 0) return cs_jd_fail(d, q, "invalid \\u escape"), NULL;
    if (cp >= 0xD800 && cp <= 0xDFFF) {
        const char *r = q + 6;
        lo = (cp <= 0xDBFF && d->end - r >= 2 && r[0] == '\\' && r[1] == 'u')
                 ? cs_jd_hex4(r + 2, d->end)
                 : -1;
        if (lo < 0xDC00 || lo > 0xDFFF) return cs_jd_fail(d, q, "unpaired surrogate"), NULL;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        q += 6;
    }
    if (b != NULL) luaL_addlstring(b, u, cs_utf8(u, (unsigned long)cp));
    return q + 6;
}

/* q is at a backslash; appends the escaped byte(s) (b may be NULL) and returns the byte after the
 * escape. */
static const char *cs_jd_escape(cs_jdec *d, const char *q, luaL_Buffer *b) {
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *hit;
    if (d->end - q < 2) return cs_jd_eof(d), NULL;
    if (q[1] == 'u') return cs_jd_unicode(d, q, b);
    hit = q[1] ? strchr(from, q[1]) : NULL;
    if (hit == NULL) return cs_jd_fail(d, q, "invalid escape"), NULL;
    if (b != NULL) luaL_addchar(b, to[hit - from]);
    return q + 2;
}

/* The string has escapes: build it in a luaL_Buffer. s starts the pending run, q is the first
 * byte of it that needs attention. */
static int cs_jd_string_escaped(cs_jdec *d, const char *s, const char *q) {
    luaL_Buffer b;
    if (!lua_checkstack(d->L, LUA_MINSTACK)) return cs_jd_fail(d, q, "Lua stack exhausted");
    luaL_buffinit(d->L, &b);
    for (;;) {
        if (q >= d->end) return cs_jd_eof(d);
        if (*q == '"') break;
        if (*q != '\\') return cs_jd_fail(d, q, "control character in string");
        luaL_addlstring(&b, s, (size_t)(q - s));
        s = cs_jd_escape(d, q, &b);
        if (s == NULL) return 0;
        q = cs_json_scan(s, d->end);
    }
    luaL_addlstring(&b, s, (size_t)(q - s));
    luaL_pushresult(&b);
    d->p = q + 1;
    return 1;
}

/* The first of the two entries a name may occupy. */
static unsigned cs_jd_name_set(const char *s, size_t n) {
    uint32_t h = (uint32_t)n, a, b;
    if (n >= 4) {
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        h = (a * 0x9E3779B1u) ^ (b * 0x85EBCA6Bu) ^ h;
        h = (h ^ (h >> 15)) * 0x2C1B3C6Du;
    } else {
        while (n-- > 0)
            h = h * 31 + (unsigned char)s[n];
        h *= 0x9E3779B1u;
    }
    return (h >> 16) % (CS_JSON_NAMES / 2) * 2;
}

static int cs_jd_name_is(const cs_jname *c, const char *s, size_t n) {
    return c->s != NULL && c->len == n && memcmp(c->s, s, n) == 0;
}

/* Member names repeat (every item of a list has the same ones): a recent one is pushed from its
 * stack slot, which is cheaper than interning the bytes again. Two entries per set, the older
 * one replaced on a miss, so that two names in one set do not evict each other. */
static void cs_jd_name(cs_jdec *d, const char *s, size_t n) {
    unsigned i = cs_jd_name_set(s, n);
    cs_jname *c = &d->names[i];
    if (!cs_jd_name_is(c, s, n)) {
        if (cs_jd_name_is(c + 1, s, n)) {
            lua_pushvalue(d->L, d->base + 3 + (int)i);
            return;
        }
        /* the newer entry moves to the second place, the older one is dropped */
        c[1] = c[0];
        lua_pushvalue(d->L, d->base + 2 + (int)i);
        lua_replace(d->L, d->base + 3 + (int)i);
        lua_pushlstring(d->L, s, n);
        lua_pushvalue(d->L, -1);
        lua_replace(d->L, d->base + 2 + (int)i);
        c->s = lua_tostring(d->L, -1);
        c->len = n;
        return;
    }
    lua_pushvalue(d->L, d->base + 2 + (int)i);
}

/* d->p is at the opening quote. Strings without escapes are pushed straight from the input. */
static int cs_jd_string(cs_jdec *d, int is_name) {
    const char *s = d->p + 1, *q = cs_json_scan(s, d->end);
    if (q < d->end && *q == '"') {
        size_t n = (size_t)(q - s);
        if (is_name && n <= CS_JSON_NAME_MAX)
            cs_jd_name(d, s, n);
        else
            lua_pushlstring(d->L, s, n);
        d->p = q + 1;
        return 1;
    }
    if (q < d->end && *q != '\\') return cs_jd_fail(d, q, "control character in string");
    return cs_jd_string_escaped(d, s, q);
}

/* Correctly rounded conversion for what the fast paths cannot do exactly. strtod follows the
 * locale's decimal point, so on a ',' locale the '.' is swapped for it and the parse retried. */
static double cs_jd_strtod(lua_State *L, const char *s, size_t n) {
    char small[64], *end, *dot;
    char *buf = n < sizeof small ? small : (char *)lua_newuserdata(L, n + 1); /* Lua-owned */
    double v;
    memcpy(buf, s, n);
    buf[n] = '\0';
    v = strtod(buf, &end);
    dot = strchr(buf, '.');
    if (end != buf + n && dot != NULL) {
        *dot = localeconv()->decimal_point[0];
        v = strtod(buf, &end);
    }
    if (buf != small) lua_pop(L, 1);
    return v;
}

static const double cs_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                  1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                  1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* A parsed number: up to 19 significant digits in m, scaled by 10^exp10. */
typedef struct {
    uint64_t m;
    int digits; /* significant digits seen; more than 19 means m is incomplete */
    int exp10;
    int neg;
    int is_int; /* no fraction and no exponent */
    int bad;
} cs_jnum;

static const char *cs_jd_digits(const char *p, const char *end, cs_jnum *n, int frac) {
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        if (n->m != 0 || *p != '0') n->digits++; /* leading zeros of a fraction don't count */
        if (n->digits > 19) continue;            /* m is incomplete: strtod will do it */
        n->m = n->m * 10 + (uint64_t)(*p - '0');
        n->exp10 -= frac;
    }
    return p;
}

static int cs_jd_is_digit(const char *p, const char *end) {
    return p < end && *p >= '0' && *p <= '9';
}

/* Parses the JSON number grammar from p; returns where it ends. n->bad says it was malformed:
 * the returned byte is then the one where a digit was due. */
static const char *cs_jd_lex_number(const char *p, const char *end, cs_jnum *n) {
    int e = 0, eneg = 0;
    if (*p == '-') n->neg = 1, p++;
    if (!cs_jd_is_digit(p, end)) return n->bad = 1, p;
    p = (*p == '0') ? p + 1 : cs_jd_digits(p, end, n, 0);
    if (p < end && *p == '.') {
        n->is_int = 0;
        if (!cs_jd_is_digit(++p, end)) return n->bad = 1, p;
        p = cs_jd_digits(p, end, n, 1);
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        n->is_int = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-')) eneg = (*p++ == '-');
        if (!cs_jd_is_digit(p, end)) return n->bad = 1, p;
        for (; cs_jd_is_digit(p, end); p++)
            if (e < 100000) e = e * 10 + (*p - '0'); /* beyond this, only inf or 0 remain */
    }
    n->exp10 += eneg ? -e : e;
    return p;
}

static int cs_jd_push_int(lua_State *L, const cs_jnum *n) {
    const uint64_t limit = (uint64_t)1 << 63; /* |min| of a 64-bit lua_Integer */
    if (n->digits > 19 || n->m > limit - (n->neg ? 0 : 1)) return 0;
#if CS_HAS_INTEGERS && LUA_MAXINTEGER == INT64_MAX
    lua_pushinteger(L, n->neg ? (lua_Integer)(0 - n->m) : (lua_Integer)n->m);
#else
    lua_pushnumber(L, n->neg && n->m ? -(lua_Number)n->m : (lua_Number)n->m); /* "-0" is 0 */
#endif
    return 1;
}

/* Tries the exact fast paths: an integer that fits, or a float whose mantissa and power of ten
 * are both exact doubles (one correctly rounded operation). */
static int cs_jd_push_fast(lua_State *L, const cs_jnum *n) {
    double v;
    if (n->is_int) return cs_jd_push_int(L, n);
    if (n->m == 0 && n->digits == 0) {
        lua_pushnumber(L, n->neg ? -0.0 : 0.0);
        return 1;
    }
    if (!CS_JSON_FAST_FLOAT || n->digits > 19 || n->m > ((uint64_t)1 << 53) || n->exp10 < -22 ||
        n->exp10 > 22)
        return 0;
    v = (double)n->m;
    v = n->exp10 < 0 ? v / cs_pow10[-n->exp10] : v * cs_pow10[n->exp10];
    lua_pushnumber(L, (lua_Number)(n->neg ? -v : v));
    return 1;
}

static int cs_jd_number(cs_jdec *d) {
    cs_jnum n = {0, 0, 0, 0, 1, 0};
    const char *s = d->p, *e = cs_jd_lex_number(s, d->end, &n);
    d->p = e;
    if (n.bad) return cs_jd_expected(d, "a digit");
    if (cs_jd_push_fast(d->L, &n)) return 1;
    lua_pushnumber(d->L, (lua_Number)cs_jd_strtod(d->L, s, (size_t)(e - s)));
    return 1;
}

static int cs_jd_literal(cs_jdec *d, const char *word, size_t n) {
    if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0)
        return cs_jd_fail(d, d->p, "invalid literal");
    d->p += n;
    return 1;
}

static int cs_jd_in_object(const cs_jdec *d) {
    return d->depth > 0 && !d->frames[d->depth - 1].is_array;
}

/* Makes room for one more open container (the caller checked the nesting limit). Frames past the
 * fixed C array live in a userdata that sits in the reserved stack slot base + 1. */
static cs_jframe *cs_jd_new_frame(cs_jdec *d) {
    if (d->depth == d->cap) {
        int cap = d->cap > d->max_depth / 2 ? d->max_depth : d->cap * 2;
        cs_jframe *f = (cs_jframe *)lua_newuserdata(d->L, (size_t)cap * sizeof *f);
        memcpy(f, d->frames, (size_t)d->depth * sizeof *f);
        lua_replace(d->L, d->base + 1);
        d->frames = f;
        d->cap = cap;
    }
    return &d->frames[d->depth++];
}

static void cs_jd_push_frame(cs_jdec *d, int is_array) {
    cs_jframe *f = cs_jd_new_frame(d);
    f->slot = lua_gettop(d->L);
    f->is_array = is_array;
    f->moved = 0;
}

static int cs_jd_too_deep(cs_jdec *d) {
    char buf[40];
    snprintf(buf, sizeof buf, "nesting deeper than %d", d->max_depth);
    return cs_jd_fail(d, d->p, buf);
}

/* Moves the items waiting above f->slot into the container's table, making the table first if
 * need be: at the exact size when this is the close, at the size of this batch otherwise (then
 * it grows as Lua tables do). Members are set in input order, so the last duplicate wins and a
 * null member (nil) removes an earlier one. */
static void cs_jd_flush(cs_jdec *d, cs_jframe *f) {
    lua_State *L = d->L;
    int n = lua_gettop(L) - f->slot, i;
    if (lua_isnil(L, f->slot)) {
        lua_createtable(L, f->is_array ? n : 0, f->is_array ? 0 : n / 2);
        lua_replace(L, f->slot);
    }
    if (f->is_array) {
        for (i = n; i > 0; i--)
            lua_rawseti(L, f->slot, f->moved + i);
        f->moved += n;
    } else {
        for (i = 1; i < n; i += 2) {
            lua_pushvalue(L, f->slot + i);
            lua_pushvalue(L, f->slot + i + 1);
            lua_rawset(L, f->slot);
        }
        lua_settop(L, f->slot);
    }
}

static int cs_jd_key(cs_jdec *d) {
    d->p = cs_jd_ws(d->p, d->end);
    if (d->p >= d->end || *d->p != '"') return cs_jd_expected(d, "a string key");
    if (!cs_jd_string(d, 1)) return 0;
    d->p = cs_jd_ws(d->p, d->end);
    if (d->p >= d->end || *d->p != ':') return cs_jd_expected(d, "':'");
    d->p++;
    return 1;
}

static void cs_jd_set_array_mt(lua_State *L) {
    lua_getfield(L, LUA_REGISTRYINDEX, CS_JSON_ARRAY_MT);
    lua_setmetatable(L, -2);
}

/* d->p is at '[' or '{'. Returns 1 for an empty container (a complete value), 2 when the
 * container is open (its frame on top) and its first item or key comes next, 0 on error. */
static int cs_jd_open_frame(cs_jdec *d) {
    int is_array = *d->p == '[';
    if (d->depth >= d->max_depth) return cs_jd_too_deep(d);
    if (!lua_checkstack(d->L, CS_JSON_PENDING + 8))
        return cs_jd_fail(d, d->p, "Lua stack exhausted");
    d->p = cs_jd_ws(d->p + 1, d->end);
    if (d->p < d->end && *d->p == (is_array ? ']' : '}')) {
        d->p++;
        lua_createtable(d->L, 0, 0);
        if (is_array) cs_jd_set_array_mt(d->L);
        return 1;
    }
    lua_pushnil(d->L);
    cs_jd_push_frame(d, is_array);
    return 2;
}

/* As cs_jd_open_frame, an object's first key read too. */
static int cs_jd_open(cs_jdec *d) {
    int r = cs_jd_open_frame(d);
    if (r != 2 || d->frames[d->depth - 1].is_array) return r;
    return cs_jd_key(d) ? 2 : 0;
}

/* Returns 1 for a complete value, 2 for an opened container, 0 on error. */
static int cs_jd_value(cs_jdec *d) {
    lua_State *L = d->L;
    d->p = cs_jd_ws(d->p, d->end);
    if (d->p >= d->end) return cs_jd_expected(d, "a value");
    switch (*d->p) {
    case '"':
        return cs_jd_string(d, 0);
    case '[':
    case '{':
        return cs_jd_open(d);
    case 't':
        return cs_jd_literal(d, "true", 4) ? (lua_pushboolean(L, 1), 1) : 0;
    case 'f':
        return cs_jd_literal(d, "false", 5) ? (lua_pushboolean(L, 0), 1) : 0;
    case 'n':
        if (!cs_jd_literal(d, "null", 4)) return 0;
        /* nil marks a member to leave out; elsewhere null is the NULL light userdata */
        if (cs_jd_in_object(d))
            lua_pushnil(L);
        else
            lua_pushlightuserdata(L, NULL);
        return 1;
    default:
        if (*d->p == '-' || (*d->p >= '0' && *d->p <= '9')) return cs_jd_number(d);
        return cs_jd_expected(d, "a value");
    }
}

/* Leaves the completed value on top with its container's other items, closing containers as
 * their ']' or '}' arrive. Returns 1 when another value is due, 2 when the top-level value is
 * complete, 0 on error. */
static int cs_jd_attach(cs_jdec *d) {
    for (;;) {
        cs_jframe *f;
        if (d->depth == d->floor) return 2;
        f = &d->frames[d->depth - 1];
        if (lua_gettop(d->L) - f->slot >= CS_JSON_PENDING) cs_jd_flush(d, f);
        d->p = cs_jd_ws(d->p, d->end);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            return f->is_array ? 1 : cs_jd_key(d);
        }
        if (d->p >= d->end || *d->p != (f->is_array ? ']' : '}'))
            return cs_jd_expected(d, f->is_array ? "',' or ']'" : "',' or '}'");
        d->p++;
        cs_jd_flush(d, f);
        d->depth--;
    }
}

static int cs_jd_run(cs_jdec *d) {
    for (;;) {
        int r = cs_jd_value(d);
        if (r == 0) return 0;
        if (r == 2) continue;
        r = cs_jd_attach(d);
        if (r != 1) return r == 2;
    }
}

/* ---------------------------------------------------------------- decoder: selections */

/* A compiled selection (see cs_sel_compile) is a deterministic automaton over member names, one
 * state per set of path positions that a value may be at; state 0 is the top-level value. A state
 * is `full` when a path ends there: the value is built whole. Otherwise an object keeps the
 * members whose name leads to a state (edges sorted by length, then bytes; `star` for any other
 * name) and an array keeps all its items if `star` is a state, none otherwise. -1 means "on no
 * selected path": the value is skipped. A scalar met in a state that is not full is kept as is: it
 * is on the way to a selected path that the document does not have, and callers that check types
 * see the same value as after a full decode. */
typedef struct {
    int full;
    int star;
    int first; /* edges [first, first + count) */
    int count;
} cs_sstate;

typedef struct {
    size_t off; /* the name's bytes start at names + off */
    size_t len;
    int next;
} cs_sedge;

typedef struct cs_selection {
    cs_sstate *states; /* one malloc'ed block holding states, edges and names; NULL once closed */
    const cs_sedge *edges;
    const char *names;
    int nstates;
    int npaths;
} cs_selection;

/* The state a member named s[0..n) of an object in state st is built in, or -1. A state has a
 * name or two as a rule: those are compared in line, a byte first; more are searched. */
static int cs_sel_next(const cs_selection *sel, int st, const char *s, size_t n) {
    const cs_sstate *S = &sel->states[st];
    int lo = S->first, hi = S->first + S->count;
    if (S->count <= 4) {
        for (; lo < hi; lo++) {
            const cs_sedge *e = &sel->edges[lo];
            const char *name = sel->names + e->off;
            if (e->len == n && name[0] == s[0] && memcmp(name, s, n) == 0) /* names are not empty */
                return e->next;
        }
        return S->star;
    }
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2, c;
        const cs_sedge *e = &sel->edges[mid];
        c = e->len != n ? (e->len < n ? -1 : 1) : memcmp(sel->names + e->off, s, n);
        if (c == 0) return e->next;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return S->star;
}

/* The skipper: validates a value without touching Lua. It reports the decoder's own errors at the
 * same bytes (the same functions produce them), and keeps its open containers as frames above the
 * selective ones, so the nesting limit counts the depth of the whole document. One loop with the
 * position in a local: the skipped bytes are most of a selective decode's input. */

/* p is past the opening quote; returns the byte after the closing one, or NULL on error. */
static const char *cs_jsk_string(cs_jdec *d, const char *p) {
    const char *q = cs_json_scan(p, d->end);
    for (;;) {
        if (q >= d->end) return cs_jd_eof(d), NULL;
        if (*q == '"') return q + 1;
        if (*q != '\\') return cs_jd_fail(d, q, "control character in string"), NULL;
        q = cs_jd_escape(d, q, NULL);
        if (q == NULL) return NULL;
        q = cs_json_scan(q, d->end);
    }
}

static const char *cs_jsk_ws(const char *p, const char *end) {
    return p < end && (unsigned char)*p <= ' ' ? cs_jd_ws(p, end) : p;
}

/* p is at a member name; returns the byte after its ':', or NULL on error. */
static const char *cs_jsk_key(cs_jdec *d, const char *p) {
    p = cs_jsk_ws(p, d->end);
    if (p >= d->end || *p != '"') return d->p = p, cs_jd_expected(d, "a string key"), NULL;
    p = cs_jsk_string(d, p + 1);
    if (p == NULL) return NULL;
    p = cs_jsk_ws(p, d->end);
    if (p >= d->end || *p != ':') return d->p = p, cs_jd_expected(d, "':'"), NULL;
    return p + 1;
}

/* A number or literal at d->p (which the caller set). */
static int cs_jsk_scalar(cs_jdec *d) {
    cs_jnum n = {0, 0, 0, 0, 1, 0};
    switch (*d->p) {
    case 't':
        return cs_jd_literal(d, "true", 4);
    case 'f':
        return cs_jd_literal(d, "false", 5);
    case 'n':
        return cs_jd_literal(d, "null", 4);
    default:
        if (*d->p != '-' && (*d->p < '0' || *d->p > '9')) return cs_jd_expected(d, "a value");
        d->p = cs_jd_lex_number(d->p, d->end, &n);
        return n.bad ? cs_jd_expected(d, "a digit") : 1;
    }
}

/* *pp is after a complete value: closes containers up to the next value due. Returns 1 with *pp
 * there (past its ',' and, in an object, its name), 2 when the skipped value is complete (depth is
 * back to base; d->p is after it), 0 on error. */
static int cs_jsk_next(cs_jdec *d, const char **pp, int base) {
    const char *p = *pp, *end = d->end;
    for (;;) {
        int is_array;
        if (d->depth == base) return d->p = p, 2;
        is_array = d->frames[d->depth - 1].is_array;
        p = cs_jsk_ws(p, end);
        if (p < end && *p == ',') {
            *pp = is_array ? p + 1 : cs_jsk_key(d, p + 1);
            return *pp != NULL;
        }
        if (p >= end || *p != (is_array ? ']' : '}'))
            return d->p = p, cs_jd_expected(d, is_array ? "',' or ']'" : "',' or '}'");
        p++;
        d->depth--;
    }
}

/* Skips the value at d->p (whitespace before it included). */
static int cs_jd_skip(cs_jdec *d) {
    const char *p = d->p, *end = d->end;
    int base = d->depth, r;
    for (;;) {
        p = cs_jsk_ws(p, end); /* a value is due at p */
        if (p < end && *p == '"') {
            p = cs_jsk_string(d, p + 1);
        } else if (p < end && (*p == '[' || *p == '{')) {
            int is_array = *p == '[';
            if (d->depth >= d->max_depth) return d->p = p, cs_jd_too_deep(d);
            p = cs_jsk_ws(p + 1, end);
            if (p < end && *p == (is_array ? ']' : '}')) {
                p++;
            } else {
                cs_jd_new_frame(d)->is_array = is_array;
                if (is_array) continue;
                p = cs_jsk_key(d, p);
                if (p != NULL) continue;
            }
        } else {
            if (p >= end) return d->p = p, cs_jd_expected(d, "a value");
            d->p = p;
            if (!cs_jsk_scalar(d)) return 0;
            p = d->p;
        }
        if (p == NULL) return 0;
        r = cs_jsk_next(d, &p, base);
        if (r != 1) return r == 2;
    }
}

/* The selective decoder: containers on the way to a selected path are frames like the full
 * decoder's, with their selection state; a full state runs the full decoder for that value. */

/* d->p is at a member name of an object in state obj. Pushes the name if the member is selected
 * and returns 1 with its state in *st; skips the member and returns 3 if not; 0 on error. */
static int cs_js_key(cs_jdec *d, int obj, int *st) {
    const char *s, *q;
    d->p = cs_jd_ws(d->p, d->end);
    if (d->p >= d->end || *d->p != '"') return cs_jd_expected(d, "a string key");
    s = d->p + 1;
    q = cs_json_scan(s, d->end);
    if (q < d->end && *q == '"') {
        size_t n = (size_t)(q - s);
        *st = cs_sel_next(d->sel, obj, s, n);
        if (*st >= 0 && n <= CS_JSON_NAME_MAX)
            cs_jd_name(d, s, n);
        else if (*st >= 0)
            lua_pushlstring(d->L, s, n);
        d->p = q + 1;
    } else {
        size_t n;
        const char *k;
        if (q < d->end && *q != '\\') return cs_jd_fail(d, q, "control character in string");
        if (!cs_jd_string_escaped(d, s, q)) return 0; /* an escaped name is compared decoded */
        k = lua_tolstring(d->L, -1, &n);
        *st = cs_sel_next(d->sel, obj, k, n);
        if (*st < 0) lua_pop(d->L, 1);
    }
    d->p = cs_jd_ws(d->p, d->end);
    if (d->p >= d->end || *d->p != ':') return cs_jd_expected(d, "':'");
    d->p++;
    if (*st >= 0) return 1;
    return cs_jd_skip(d) ? 3 : 0;
}

/* d->p is past the '[', '{' or ',' of the selective container f. Returns 1 when the next item is
 * to be built (its state in *st), 3 when it was skipped, 0 on error. */
static int cs_js_item(cs_jdec *d, const cs_jframe *f, int *st) {
    if (!f->is_array) return cs_js_key(d, f->state, st);
    if (f->state < 0) return cs_jd_skip(d) ? 3 : 0;
    *st = f->state;
    return 1;
}

/* Returns 1 for a complete value pushed, 2 for an opened selective container (its first item not
 * read yet), 0 on error. */
static int cs_js_value(cs_jdec *d, int st) {
    const cs_sstate *S = &d->sel->states[st];
    cs_jframe *f;
    int r;
    d->p = cs_jd_ws(d->p, d->end);
    if (S->full && d->p < d->end && *d->p == '"')
        return cs_jd_string(d, 1); /* selected strings repeat (states): the name cache has them */
    if (S->full) {
        d->floor = d->depth;
        return cs_jd_run(d);
    }
    if (d->p >= d->end || (*d->p != '[' && *d->p != '{')) return cs_jd_value(d);
    r = cs_jd_open_frame(d);
    if (r != 2) return r;
    f = &d->frames[d->depth - 1];
    f->state = f->is_array ? S->star : st;
    return 2;
}

/* As cs_jd_attach for selective containers. An array that kept no item gets the array metatable,
 * as an empty one in the input does. */
static int cs_js_attach(cs_jdec *d, int *st) {
    for (;;) {
        cs_jframe *f;
        if (d->depth == 0) return 2;
        f = &d->frames[d->depth - 1];
        if (lua_gettop(d->L) - f->slot >= CS_JSON_PENDING) cs_jd_flush(d, f);
        d->p = cs_jd_ws(d->p, d->end);
        if (d->p < d->end && *d->p == ',') {
            int r;
            d->p++;
            r = cs_js_item(d, f, st);
            if (r != 3) return r;
            continue; /* f may have moved: the skipper can grow the frames */
        }
        if (d->p >= d->end || *d->p != (f->is_array ? ']' : '}'))
            return cs_jd_expected(d, f->is_array ? "',' or ']'" : "',' or '}'");
        d->p++;
        cs_jd_flush(d, f);
        if (f->is_array && f->moved == 0) cs_jd_set_array_mt(d->L);
        d->depth--;
    }
}

static int cs_js_run(cs_jdec *d) {
    int st = 0;
    for (;;) {
        int r = cs_js_value(d, st);
        if (r == 2) {
            r = cs_js_item(d, &d->frames[d->depth - 1], &st);
            if (r == 1) continue;
        }
        if (r == 0) return 0;
        r = cs_js_attach(d, &st);
        if (r != 1) return r == 2;
    }
}

/* The C entry point for the HTTP client and the Lua functions: decodes s[0..len) and, on
 * success, leaves the value on top of the stack and returns 1; on failure leaves the stack as it
 * was, writes a one-line message ("... at byte N") into err and returns 0. sel is a compiled
 * selection (cs_sel_check, or the pointer held by a connectstatus.Selection) or NULL for a full
 * decode; the caller keeps it alive for the call (a closed one fails: "the selection is
 * closed"). Uses a fixed amount of C stack whatever the input; memory errors are raised as Lua
 * errors, leaking nothing. */
static int cs_json_decode_sel(lua_State *L, const char *s, size_t len, int max_depth,
                              const cs_selection *sel, char *err, size_t errlen) {
    cs_jframe fixed[CS_JSON_FIXED_FRAMES];
    cs_jdec d;
    int ok;
    memset(&d, 0, sizeof d);
    d.L = L;
    d.start = d.p = s;
    d.end = s + len;
    d.err = err;
    d.errlen = errlen;
    d.frames = fixed;
    d.cap = CS_JSON_FIXED_FRAMES;
    d.max_depth = max_depth < 0 ? 0 : max_depth;
    d.base = lua_gettop(L);
    if (sel != NULL && sel->states == NULL) return cs_jd_fail(&d, d.p, "the selection is closed");
    d.sel = sel != NULL && !sel->states[0].full ? sel : NULL;
    if (!lua_checkstack(L, CS_JSON_NAMES + 5)) return cs_jd_fail(&d, d.p, "Lua stack exhausted");
    lua_settop(L, d.base + 1 + CS_JSON_NAMES);
    if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) d.p += 3; /* a UTF-8 BOM is ignored */
    ok = d.sel != NULL ? cs_js_run(&d) : cs_jd_run(&d);
    if (ok) {
        d.p = cs_jd_ws(d.p, d.end);
        if (d.p == d.end) {
            lua_replace(L, d.base + 1);
            lua_settop(L, d.base + 1);
            return 1;
        }
        cs_jd_expected(&d, "end of input");
    }
    lua_settop(L, d.base);
    return 0;
}

/* ---------------------------------------------------------------- selections: compiling */

#define CS_SEL_MT "connectstatus.Selection"
/* A bound on the automaton, which could otherwise grow exponentially with overlapping wildcards. */
#define CS_SEL_MAX_STATES 4096

/* A growing array in a userdata held in a fixed stack slot (Lua-owned: an error leaks nothing). */
typedef struct {
    char *p;
    size_t size; /* of one element */
    int n;
    int cap;
    int slot;
} cs_svec;

static void cs_svec_init(lua_State *L, cs_svec *v, size_t size) {
    memset(v, 0, sizeof *v);
    v->size = size;
    lua_pushnil(L);
    v->slot = lua_gettop(L);
}

static void *cs_svec_add(lua_State *L, cs_svec *v, int count) {
    if (v->cap - v->n < count) {
        int cap = v->cap > 0 ? v->cap : 16;
        char *p;
        while (cap - v->n < count) {
            if (cap > INT_MAX / 2) luaL_error(L, "select: selection too large");
            cap *= 2;
        }
        p = (char *)lua_newuserdata(L, (size_t)cap * v->size);
        if (v->n > 0) memcpy(p, v->p, (size_t)v->n * v->size);
        lua_replace(L, v->slot);
        v->p = p;
        v->cap = cap;
    }
    v->n += count;
    return v->p + (size_t)(v->n - count) * v->size;
}

/* The paths as a trie: node 0 is the top-level value; a node's named children are edges. */
typedef struct {
    int star; /* the child for '*', or -1 */
    int terminal;
} cs_tnode;

typedef struct {
    const char *name; /* into a path string, kept alive by the paths table */
    size_t len;
    int node;
    int child;
} cs_tedge;

/* A state of the automaton under construction: the set of trie nodes it stands for. */
typedef struct {
    int set; /* members at sets[set .. set + count) */
    int count;
    cs_sstate out;
} cs_dstate;

typedef struct {
    lua_State *L;
    int arg; /* the argument being compiled, for errors */
    cs_svec nodes, tedges, states, sets, dedges, scratch, mark;
    size_t name_bytes;
} cs_sbuild;

static int cs_sb_node(cs_sbuild *b) {
    cs_tnode *n = (cs_tnode *)cs_svec_add(b->L, &b->nodes, 1);
    n->star = -1;
    n->terminal = 0;
    return b->nodes.n - 1;
}

/* The child of node for one path segment, made if new. */
static int cs_sb_step(cs_sbuild *b, int node, const char *seg, size_t len) {
    cs_tedge *e;
    int i, child;
    if (len == 1 && *seg == '*') {
        if (((cs_tnode *)b->nodes.p)[node].star < 0) {
            child = cs_sb_node(b);
            ((cs_tnode *)b->nodes.p)[node].star = child;
        }
        return ((cs_tnode *)b->nodes.p)[node].star;
    }
    for (i = 0; i < b->tedges.n; i++) {
        e = &((cs_tedge *)b->tedges.p)[i];
        if (e->node == node && e->len == len && memcmp(e->name, seg, len) == 0) return e->child;
    }
    child = cs_sb_node(b);
    e = (cs_tedge *)cs_svec_add(b->L, &b->tedges, 1);
    e->name = seg;
    e->len = len;
    e->node = node;
    e->child = child;
    return child;
}

static void cs_sb_path(cs_sbuild *b, int i, const char *s, size_t n) {
    int node = 0;
    size_t at = 0;
    if (n == 0)
        luaL_argerror(b->L, b->arg, lua_pushfstring(b->L, "select[%d] is an empty path", i));
    for (;;) {
        const char *dot = (const char *)memchr(s + at, '.', n - at);
        size_t len = (dot != NULL ? (size_t)(dot - s) : n) - at;
        if (len == 0)
            luaL_argerror(b->L, b->arg,
                          lua_pushfstring(b->L, "select[%d] (\"%s\") has an empty segment", i, s));
        node = cs_sb_step(b, node, s + at, len);
        if (dot == NULL) break;
        at += len + 1;
    }
    ((cs_tnode *)b->nodes.p)[node].terminal = 1;
}

static int cs_sb_int_cmp(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The state for the set of trie nodes in scratch (sorted, unique here), made if new; -1 for the
 * empty set. */
static int cs_sb_state(cs_sbuild *b) {
    int n = b->scratch.n, i, *set;
    cs_dstate *st;
    if (n == 0) return -1;
    qsort(b->scratch.p, (size_t)n, sizeof(int), cs_sb_int_cmp);
    for (i = 0; i < b->states.n; i++) {
        st = &((cs_dstate *)b->states.p)[i];
        if (st->count == n &&
            memcmp((int *)b->sets.p + st->set, b->scratch.p, (size_t)n * sizeof(int)) == 0)
            return i;
    }
    if (b->states.n >= CS_SEL_MAX_STATES)
        luaL_argerror(b->L, b->arg, "select: too many overlapping wildcard paths");
    set = (int *)cs_svec_add(b->L, &b->sets, n);
    memcpy(set, b->scratch.p, (size_t)n * sizeof(int));
    st = (cs_dstate *)cs_svec_add(b->L, &b->states, 1);
    st->set = b->sets.n - n;
    st->count = n;
    return b->states.n - 1;
}

static void cs_sb_add(cs_sbuild *b, int node) {
    int *s = (int *)b->scratch.p, i;
    for (i = 0; i < b->scratch.n; i++)
        if (s[i] == node) return;
    *(int *)cs_svec_add(b->L, &b->scratch, 1) = node;
}

/* Collects in scratch the '*' children of the nodes marked for state i (mark[node] == i + 1),
 * and the children by a name equal to the edge `by` (or none if by is NULL). */
static void cs_sb_targets(cs_sbuild *b, int i, const cs_tedge *by) {
    const int *mark = (const int *)b->mark.p;
    int k;
    b->scratch.n = 0;
    for (k = 0; k < b->nodes.n; k++) {
        int star = ((cs_tnode *)b->nodes.p)[k].star;
        if (mark[k] == i + 1 && star >= 0) cs_sb_add(b, star);
    }
    if (by == NULL) return;
    for (k = 0; k < b->tedges.n; k++) {
        const cs_tedge *e = &((cs_tedge *)b->tedges.p)[k];
        if (mark[e->node] == i + 1 && e->len == by->len && memcmp(e->name, by->name, by->len) == 0)
            cs_sb_add(b, e->child);
    }
}

typedef struct {
    const char *name;
    size_t len;
    int next;
} cs_dedge;

static int cs_sb_dedge_cmp(const void *a, const void *b) {
    const cs_dedge *x = (const cs_dedge *)a, *y = (const cs_dedge *)b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return memcmp(x->name, y->name, x->len);
}

/* Has state i (whose edges start at first) an edge for this name already? */
static int cs_sb_has_edge(const cs_sbuild *b, int first, const cs_tedge *e) {
    int k;
    for (k = first; k < b->dedges.n; k++) {
        const cs_dedge *x = &((const cs_dedge *)b->dedges.p)[k];
        if (x->len == e->len && memcmp(x->name, e->name, e->len) == 0) return 1;
    }
    return 0;
}

/* Subset construction, breadth first: each state's transitions, by name and for anything else. */
static void cs_sb_expand(cs_sbuild *b, int i) {
    cs_dstate st = ((cs_dstate *)b->states.p)[i];
    int *mark = (int *)b->mark.p, k, first = b->dedges.n;
    st.out.full = 0;
    for (k = 0; k < st.count; k++) {
        int node = ((int *)b->sets.p)[st.set + k];
        mark[node] = i + 1;
        if (((cs_tnode *)b->nodes.p)[node].terminal) st.out.full = 1;
    }
    st.out.star = -1;
    if (!st.out.full) {
        for (k = 0; k < b->tedges.n; k++) {
            cs_tedge e = ((cs_tedge *)b->tedges.p)[k];
            cs_dedge *x;
            int next;
            if (mark[e.node] != i + 1 || cs_sb_has_edge(b, first, &e)) continue;
            cs_sb_targets(b, i, &e);
            next = cs_sb_state(b);
            x = (cs_dedge *)cs_svec_add(b->L, &b->dedges, 1);
            x->name = e.name;
            x->len = e.len;
            x->next = next;
            b->name_bytes += e.len;
        }
        cs_sb_targets(b, i, NULL);
        st.out.star = cs_sb_state(b);
    }
    st.out.first = first;
    st.out.count = b->dedges.n - first;
    if (st.out.count > 1)
        qsort(b->dedges.p + (size_t)first * sizeof(cs_dedge), (size_t)st.out.count,
              sizeof(cs_dedge), cs_sb_dedge_cmp);
    ((cs_dstate *)b->states.p)[i].out = st.out;
}

/* Frees what a Selection holds; idempotent (close, __gc and __close). */
static void cs_sel_free(cs_selection *sel) {
    free(sel->states);
    sel->states = NULL;
    sel->edges = NULL;
    sel->names = NULL;
}

/* Copies the automaton into one malloc'ed block owned by sel. */
static void cs_sb_finish(cs_sbuild *b, cs_selection *sel) {
    size_t ns = (size_t)b->states.n * sizeof(cs_sstate),
           ne = (size_t)b->dedges.n * sizeof(cs_sedge);
    char *block = (char *)malloc(ns + ne + b->name_bytes + 1), *names;
    cs_sedge *edges;
    size_t off = 0;
    int k;
    if (block == NULL) luaL_error(b->L, "select: not enough memory");
    sel->states = (cs_sstate *)block;
    edges = (cs_sedge *)(block + ns);
    names = block + ns + ne;
    for (k = 0; k < b->states.n; k++)
        sel->states[k] = ((cs_dstate *)b->states.p)[k].out;
    for (k = 0; k < b->dedges.n; k++) {
        const cs_dedge *x = &((cs_dedge *)b->dedges.p)[k];
        memcpy(names + off, x->name, x->len);
        edges[k].off = off;
        edges[k].len = x->len;
        edges[k].next = x->next;
        off += x->len;
    }
    sel->edges = edges;
    sel->names = names;
    sel->nstates = b->states.n;
}

/* Compiles the list of paths at idx into a new Selection, left on top of the stack. Errors are
 * raised against argument arg and name `select`. */
static cs_selection *cs_sel_compile(lua_State *L, int idx, int arg) {
    cs_sbuild b;
    cs_selection *sel;
    int n = (int)lua_rawlen(L, idx), i;
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    if (n == 0) luaL_argerror(L, arg, "select must be a non-empty list of paths");
    memset(&b, 0, sizeof b);
    b.L = L;
    b.arg = arg;
    luaL_checkstack(L, 12, "select");
    cs_svec_init(L, &b.nodes, sizeof(cs_tnode));
    cs_svec_init(L, &b.tedges, sizeof(cs_tedge));
    cs_svec_init(L, &b.states, sizeof(cs_dstate));
    cs_svec_init(L, &b.sets, sizeof(int));
    cs_svec_init(L, &b.dedges, sizeof(cs_dedge));
    cs_svec_init(L, &b.scratch, sizeof(int));
    cs_svec_init(L, &b.mark, sizeof(int));
    cs_sb_node(&b);
    for (i = 1; i <= n; i++) {
        size_t len;
        const char *s;
        lua_rawgeti(L, idx, i);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_argerror(
                L, arg,
                lua_pushfstring(L, "select[%d] must be a string, got %s", i, luaL_typename(L, -1)));
        s = lua_tolstring(L, -1, &len);
        lua_pop(L, 1); /* the string stays alive in the paths table */
        cs_sb_path(&b, i, s, len);
    }
    memset(cs_svec_add(L, &b.mark, b.nodes.n), 0, (size_t)b.nodes.n * sizeof(int));
    *(int *)cs_svec_add(L, &b.scratch, 1) = 0;
    cs_sb_state(&b);
    for (i = 0; i < b.states.n; i++)
        cs_sb_expand(&b, i);
    sel = (cs_selection *)lua_newuserdata(L, sizeof *sel); /* created closed */
    memset(sel, 0, sizeof *sel);
    luaL_getmetatable(L, CS_SEL_MT);
    lua_setmetatable(L, -2);
    cs_sb_finish(&b, sel);
    sel->npaths = n;
    lua_replace(L, b.nodes.slot);
    lua_settop(L, b.nodes.slot);
    return sel;
}

/* The selection given as argument arg at idx: a Selection, or a list of paths compiled into a
 * Selection left on top of the stack (*fresh is set: the caller may close it when done). */
static cs_selection *cs_sel_check(lua_State *L, int idx, int arg, int *fresh) {
    cs_selection *sel = (cs_selection *)luaL_testudata(L, idx, CS_SEL_MT);
    *fresh = 0;
    if (sel != NULL) {
        if (sel->states == NULL) luaL_argerror(L, arg, "select: the selection is closed");
        return sel;
    }
    if (lua_type(L, idx) != LUA_TTABLE)
        luaL_argerror(L, arg,
                      lua_pushfstring(L,
                                      "select must be a list of paths or a "
                                      "connectstatus.Selection, got %s",
                                      luaL_typename(L, idx)));
    *fresh = 1;
    return cs_sel_compile(L, idx, arg);
}

/* ---------------------------------------------------------------- encoder */

/* The output grows in a userdata held in a fixed stack slot, so the encoder may push and pop
 * freely in between (a luaL_Buffer could not allow that) and an error raised mid-way leaks
 * nothing. */
typedef struct {
    int t;        /* the table's stack index; an object's lua_next key sits at t + 1 */
    int is_array; /* then items i..n are still to come */
    int first;    /* objects: no member written yet */
    size_t i, n;
} cs_jeframe;

/* The encoder is iterative, like the decoder: open tables are frames in a userdata held in stack
 * slot fslot, so deep input costs heap, never C stack, and max_depth bounds it. */
typedef struct {
    lua_State *L;
    char *b;
    size_t len;
    size_t cap;
    int slot;
    cs_jeframe *frames;
    int depth;
    int fcap;
    int fslot;
    int max_depth;
} cs_jenc;

static char *cs_je_reserve(cs_jenc *e, size_t n) {
    if (e->cap - e->len < n) {
        size_t cap = e->cap;
        char *b;
        while (cap - e->len < n) {
            if (cap > (size_t)-1 / 2) luaL_error(e->L, "json_encode: output too large");
            cap *= 2;
        }
        b = (char *)lua_newuserdata(e->L, cap);
        memcpy(b, e->b, e->len);
        lua_replace(e->L, e->slot);
        e->b = b;
        e->cap = cap;
    }
    return e->b + e->len;
}

static void cs_je_add(cs_jenc *e, const char *s, size_t n) {
    memcpy(cs_je_reserve(e, n), s, n);
    e->len += n;
}

static void cs_je_char(cs_jenc *e, char c) {
    *cs_je_reserve(e, 1) = c;
    e->len++;
}

static void cs_je_escape(cs_jenc *e, unsigned char c) {
    static const char hex[] = "0123456789abcdef";
    char u[6] = {'\\', 'u', '0', '0', 0, 0};
    const char *hit = strchr("\"\\\b\f\n\r\t", c);
    if (c != 0 && hit != NULL) {
        u[1] = "\"\\bfnrt"[hit - "\"\\\b\f\n\r\t"];
        cs_je_add(e, u, 2);
        return;
    }
    u[4] = hex[c >> 4];
    u[5] = hex[c & 15];
    cs_je_add(e, u, 6);
}

/* RFC 8259 escaping: '"', '\\' and control characters; '/' and bytes >= 0x80 pass through. */
static void cs_je_string(cs_jenc *e, const char *s, size_t n) {
    const char *end = s + n;
    cs_je_char(e, '"');
    for (;;) {
        const char *q = cs_json_scan(s, end);
        cs_je_add(e, s, (size_t)(q - s));
        if (q == end) break;
        cs_je_escape(e, (unsigned char)*q);
        s = q + 1;
    }
    cs_je_char(e, '"');
}

static void cs_je_integer(cs_jenc *e, cs_jint v) {
    char tmp[24], *p = tmp + sizeof tmp;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0) *--p = '-';
    cs_je_add(e, p, (size_t)(tmp + sizeof tmp - p));
}

/* Shortest of %.14g..%.17g that reads back to the same double. snprintf and strtod agree on the
 * locale's decimal point; the text then gets a '.' whatever the locale. */
static void cs_je_float(cs_jenc *e, double x) {
    char tmp[40], *c;
    int prec, n = 0;
    for (prec = 14; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof tmp, "%.*g", prec, x);
        if (prec == 17 || strtod(tmp, NULL) == x) break;
    }
    for (c = tmp; *c; c++)
        if ((*c < '0' || *c > '9') && *c != '-' && *c != '+' && *c != 'e') *c = '.';
#if CS_HAS_INTEGERS
    if (strpbrk(tmp, ".e") == NULL) tmp[n++] = '.', tmp[n++] = '0'; /* stays a float */
#endif
    cs_je_add(e, tmp, (size_t)n);
}

static void cs_je_number(cs_jenc *e, int idx) {
    lua_Number x;
#if CS_HAS_INTEGERS
    if (lua_isinteger(e->L, idx)) {
        cs_je_integer(e, lua_tointeger(e->L, idx));
        return;
    }
#endif
    x = lua_tonumber(e->L, idx);
    if (x != x) luaL_error(e->L, "json_encode: cannot encode NaN");
    if (x - x != 0) luaL_error(e->L, "json_encode: cannot encode %s", x > 0 ? "inf" : "-inf");
#if !CS_HAS_INTEGERS
    if (x == floor(x) && fabs(x) <= 9007199254740992.0) {
        cs_je_integer(e, (cs_jint)x);
        return;
    }
#endif
    cs_je_float(e, (double)x);
}

static int cs_je_key_error(lua_State *L) {
    return luaL_error(L,
                      "json_encode: cannot encode a table with a %s key (an array has exactly "
                      "the keys 1..n, an object only string keys)",
                      luaL_typename(L, -1));
}

/* A table with a non-zero border is an array: its keys must be exactly 1..border. */
static void cs_je_check_array(lua_State *L, int t, size_t border) {
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_Number k;
        lua_pop(L, 1);
        k = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
        if (k < 1 || k > (lua_Number)border || k != floor(k))
            luaL_error(L, "json_encode: cannot encode a table mixing items 1..n with a %s key",
                       luaL_typename(L, -1));
        count++;
    }
    if (count != border) luaL_error(L, "json_encode: cannot encode an array with holes");
}

static int cs_je_is_array_mt(lua_State *L, int t) {
    int yes;
    if (!lua_getmetatable(L, t)) return 0;
    lua_getfield(L, LUA_REGISTRYINDEX, CS_JSON_ARRAY_MT);
    yes = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return yes;
}

/* Opens the table at the top of the stack: checks the depth and, for an array, its keys. */
static void cs_je_open(cs_jenc *e) {
    lua_State *L = e->L;
    int t = lua_gettop(L);
    size_t border = (size_t)lua_rawlen(L, t);
    cs_jeframe *f;
    if (e->depth >= e->max_depth)
        luaL_error(L, "json_encode: tables nested deeper than %d (a reference cycle?)",
                   e->max_depth);
    luaL_checkstack(L, 6, "json_encode: tables nested too deep");
    if (border > 0) cs_je_check_array(L, t, border);
    if (e->depth == e->fcap) {
        int cap = e->fcap > e->max_depth / 2 ? e->max_depth : e->fcap * 2;
        f = (cs_jeframe *)lua_newuserdata(L, (size_t)cap * sizeof *f);
        memcpy(f, e->frames, (size_t)e->depth * sizeof *f);
        lua_replace(L, e->fslot);
        e->frames = f;
        e->fcap = cap;
    }
    f = &e->frames[e->depth++];
    f->t = t;
    f->is_array = border > 0;
    f->first = 1;
    f->i = 1;
    f->n = border;
    if (f->is_array)
        cs_je_char(e, '[');
    else
        lua_pushnil(L); /* the first lua_next key */
}

/* Writes the value at the top of the stack and pops it, unless it is a table: that is opened. */
static void cs_je_value(cs_jenc *e) {
    lua_State *L = e->L;
    int idx = lua_gettop(L);
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        cs_je_add(e, "null", 4);
        break;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx))
            cs_je_add(e, "true", 4);
        else
            cs_je_add(e, "false", 5);
        break;
    case LUA_TNUMBER:
        cs_je_number(e, idx);
        break;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        cs_je_string(e, s, n);
        break;
    }
    case LUA_TTABLE:
        cs_je_open(e);
        return;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) {
            cs_je_add(e, "null", 4);
            break;
        }
        /* fall through */
    default:
        luaL_error(L, "json_encode: cannot encode a %s", luaL_typename(L, idx));
    }
    lua_pop(L, 1);
}

/* Pushes the next item or member value of the innermost open table (writing what comes before
 * it), or closes that table and returns 0. Members come in table order (not sorted: order
 * carries no meaning in JSON and sorting costs). */
static int cs_je_next(cs_jenc *e) {
    lua_State *L = e->L;
    cs_jeframe *f = &e->frames[e->depth - 1];
    if (f->is_array) {
        if (f->i <= f->n) {
            if (f->i > 1) cs_je_char(e, ',');
            lua_rawgeti(L, f->t, (cs_jint)f->i++);
            return 1;
        }
        cs_je_char(e, ']');
    } else if (lua_next(L, f->t)) {
        size_t n;
        const char *k;
        if (lua_type(L, -2) != LUA_TSTRING) lua_pop(L, 1), cs_je_key_error(L);
        k = lua_tolstring(L, -2, &n);
        cs_je_char(e, f->first ? '{' : ',');
        cs_je_string(e, k, n);
        cs_je_char(e, ':');
        f->first = 0;
        return 1;
    } else if (f->first) {
        cs_je_add(e, cs_je_is_array_mt(L, f->t) ? "[]" : "{}", 2);
    } else {
        cs_je_char(e, '}');
    }
    lua_settop(L, f->t - 1);
    e->depth--;
    return 0;
}

/* Encodes a copy of the value at idx (pushed, so that closing the outermost table pops it). */
static void cs_je_run(cs_jenc *e, int idx) {
    lua_pushvalue(e->L, idx);
    cs_je_value(e);
    while (e->depth > 0)
        if (cs_je_next(e)) cs_je_value(e);
}

/* ---------------------------------------------------------------- Lua functions */

static int cs_json_unknown_option(lua_State *L, int arg, int with_select) {
    lua_pushnil(L);
    while (lua_next(L, arg)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        lua_pop(L, 1);
        if (k != NULL && (strcmp(k, "max_depth") == 0 || (with_select && strcmp(k, "select") == 0)))
            continue;
        return luaL_argerror(
            L, arg,
            k != NULL ? lua_pushfstring(L, "unknown option '%s'", k)
                      : lua_pushfstring(L, "unknown option (a %s key)", luaL_typename(L, -1)));
    }
    return 0;
}

/* The options argument arg of decode and encode: nil, max_depth as a number, or a table with
 * max_depth and, for decode (sel not NULL), select. Returns max_depth. A selection is left on the
 * stack (see cs_sel_check). */
static int cs_json_options(lua_State *L, int arg, cs_selection **sel, int *fresh) {
    lua_Integer depth = CS_JSON_DEFAULT_DEPTH;
    if (sel != NULL) *sel = NULL, *fresh = 0;
    if (lua_type(L, arg) != LUA_TTABLE) {
        depth = luaL_optinteger(L, arg, CS_JSON_DEFAULT_DEPTH);
        luaL_argcheck(L, depth >= 0 && depth <= INT_MAX, arg,
                      "max_depth must be a non-negative integer");
        return (int)depth;
    }
    cs_json_unknown_option(L, arg, sel != NULL);
    lua_getfield(L, arg, "max_depth");
    if (!lua_isnil(L, -1)) {
        lua_Number x = lua_tonumber(L, -1);
        luaL_argcheck(L, lua_type(L, -1) == LUA_TNUMBER && x >= 0 && x <= INT_MAX && x == floor(x),
                      arg, "max_depth must be a non-negative integer");
        depth = (lua_Integer)x;
    }
    lua_pop(L, 1);
    if (sel == NULL) return (int)depth;
    lua_getfield(L, arg, "select");
    if (lua_isnil(L, -1))
        lua_pop(L, 1);
    else
        *sel = cs_sel_check(L, lua_gettop(L), arg, fresh);
    return (int)depth;
}

/* decode(s [, max_depth | {max_depth =, select =}]) -> value | nil, message */
static int cs_l_json_decode(lua_State *L) {
    char err[96];
    size_t len;
    const char *s;
    cs_selection *sel;
    int depth, fresh, ok;
    if (lua_type(L, 1) != LUA_TSTRING)
        return luaL_argerror(L, 1,
                             lua_pushfstring(L, "string expected, got %s", luaL_typename(L, 1)));
    s = lua_tolstring(L, 1, &len);
    lua_settop(L, 2);
    depth = cs_json_options(L, 2, &sel, &fresh);
    ok = cs_json_decode_sel(L, s, len, depth, sel, err, sizeof err);
    if (fresh) cs_sel_free(sel); /* compiled for this call only: free it now, not at collection */
    if (ok) return 1;
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
}

/* encode(v [, max_depth | {max_depth =}]) -> text; raises for what JSON cannot hold. */
static int cs_l_json_encode(lua_State *L) {
    cs_jenc e;
    luaL_checkany(L, 1);
    memset(&e, 0, sizeof e);
    e.max_depth = cs_json_options(L, 2, NULL, NULL);
    lua_settop(L, 1);
    e.L = L;
    e.cap = 256;
    e.b = (char *)lua_newuserdata(L, e.cap);
    e.slot = 2;
    e.fcap = 16;
    e.frames = (cs_jeframe *)lua_newuserdata(L, (size_t)e.fcap * sizeof *e.frames);
    e.fslot = 3;
    cs_je_run(&e, 1);
    lua_pushlstring(L, e.b, e.len);
    return 1;
}

/* json_selection(paths) -> a connectstatus.Selection, compiled once for many decodes. */
static int cs_l_json_selection(lua_State *L) {
    if (lua_type(L, 1) != LUA_TTABLE)
        return luaL_argerror(
            L, 1,
            lua_pushfstring(L, "select must be a list of paths, got %s", luaL_typename(L, 1)));
    lua_settop(L, 1);
    cs_sel_compile(L, 1, 1);
    return 1;
}

static int cs_l_sel_close(lua_State *L) {
    cs_sel_free((cs_selection *)luaL_checkudata(L, 1, CS_SEL_MT));
    return 0;
}

static int cs_l_sel_tostring(lua_State *L) {
    const cs_selection *sel = (const cs_selection *)luaL_checkudata(L, 1, CS_SEL_MT);
    if (sel->states == NULL)
        lua_pushliteral(L, CS_SEL_MT " (closed)");
    else
        lua_pushfstring(L, CS_SEL_MT " (%d paths)", sel->npaths);
    return 1;
}

static void cs_sel_register(lua_State *L) {
    static const luaL_Reg meta[] = {
        {"__gc", cs_l_sel_close},
        {"__close", cs_l_sel_close},
        {"__tostring", cs_l_sel_tostring},
        {NULL, NULL},
    };
    static const luaL_Reg methods[] = {
        {"close", cs_l_sel_close},
        {NULL, NULL},
    };
    luaL_newmetatable(L, CS_SEL_MT);
    luaL_setfuncs(L, meta, 0);
    lua_pushliteral(L, CS_SEL_MT);
    lua_setfield(L, -2, "__name");
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

static void cs_json_register(lua_State *L) {
    static const luaL_Reg funcs[] = {
        {"json_decode", cs_l_json_decode},
        {"json_encode", cs_l_json_encode},
        {"json_selection", cs_l_json_selection},
        {NULL, NULL},
    };
    luaL_setfuncs(L, funcs, 0);
    cs_sel_register(L);
    luaL_newmetatable(L, CS_JSON_ARRAY_MT);
    lua_pushliteral(L, CS_JSON_ARRAY_MT);
    lua_setfield(L, -2, "__name");
    lua_setfield(L, -2, "json_array_mt");
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
}
