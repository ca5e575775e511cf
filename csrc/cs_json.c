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
#define CS_JSON_ENCODE_MAX_DEPTH 1000
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

/* Returns the first byte at or after p that a JSON string cannot hold as is ('"', '\\' or a
 * control character), or end. Eight bytes at a time: the bit tricks set the high bit of each such
 * byte (and maybe of bytes after one, never before one), so the lowest set bit marks the answer. */
static const char *cs_json_scan(const char *p, const char *end) {
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
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
    int base; /* stack top on entry; base + 1 holds spilled frames, then the names */
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

/* q is at "\u"; appends the code point as UTF-8 and returns the byte after the escape(s).
 * Surrogates must come as a high-low pair: a lone one has no UTF-8 form. */
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
    luaL_addlstring(b, u, cs_utf8(u, (unsigned long)cp));
    return q + 6;
}

/* q is at a backslash; appends the escaped byte(s) and returns the byte after the escape. */
static const char *cs_jd_escape(cs_jdec *d, const char *q, luaL_Buffer *b) {
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *hit;
    if (d->end - q < 2) return cs_jd_eof(d), NULL;
    if (q[1] == 'u') return cs_jd_unicode(d, q, b);
    hit = q[1] ? strchr(from, q[1]) : NULL;
    if (hit == NULL) return cs_jd_fail(d, q, "invalid escape"), NULL;
    luaL_addchar(b, to[hit - from]);
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

/* Makes room for one more open container. Frames past the fixed C array live in a userdata that
 * sits in the reserved stack slot base + 1. */
static void cs_jd_push_frame(cs_jdec *d, int is_array) {
    cs_jframe *f;
    if (d->depth == d->cap) {
        int cap = d->cap > d->max_depth / 2 ? d->max_depth : d->cap * 2;
        f = (cs_jframe *)lua_newuserdata(d->L, (size_t)cap * sizeof *f);
        memcpy(f, d->frames, (size_t)d->depth * sizeof *f);
        lua_replace(d->L, d->base + 1);
        d->frames = f;
        d->cap = cap;
    }
    f = &d->frames[d->depth++];
    f->slot = lua_gettop(d->L);
    f->is_array = is_array;
    f->moved = 0;
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
 * container is open and its first value (or key) comes next, 0 on error. */
static int cs_jd_open(cs_jdec *d) {
    int is_array = *d->p == '[';
    char buf[40];
    if (d->depth >= d->max_depth) {
        snprintf(buf, sizeof buf, "nesting deeper than %d", d->max_depth);
        return cs_jd_fail(d, d->p, buf);
    }
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
    return is_array ? 2 : (cs_jd_key(d) ? 2 : 0);
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
        if (d->depth == 0) return 2;
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

static int cs_json_decode(lua_State *L, const char *s, size_t len, int max_depth, char *err,
                          size_t errlen) {
    cs_jframe fixed[CS_JSON_FIXED_FRAMES];
    cs_jdec d;
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
    if (!lua_checkstack(L, CS_JSON_NAMES + 5)) return cs_jd_fail(&d, d.p, "Lua stack exhausted");
    lua_settop(L, d.base + 1 + CS_JSON_NAMES);
    if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) d.p += 3; /* a UTF-8 BOM is ignored */
    if (cs_jd_run(&d)) {
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

/* ---------------------------------------------------------------- encoder */

/* The output grows in a userdata held in a fixed stack slot, so the encoder may push and pop
 * freely in between (a luaL_Buffer could not allow that) and an error raised mid-way leaks
 * nothing. */
typedef struct {
    lua_State *L;
    char *b;
    size_t len;
    size_t cap;
    int slot;
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

static void cs_je_value(cs_jenc *e, int idx, int depth);

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

static void cs_je_array(cs_jenc *e, int t, size_t n, int depth) {
    size_t i;
    cs_je_char(e, '[');
    for (i = 1; i <= n; i++) {
        if (i > 1) cs_je_char(e, ',');
        lua_rawgeti(e->L, t, (cs_jint)i);
        cs_je_value(e, lua_gettop(e->L), depth);
        lua_pop(e->L, 1);
    }
    cs_je_char(e, ']');
}

static int cs_je_is_array_mt(lua_State *L, int t) {
    int yes;
    if (!lua_getmetatable(L, t)) return 0;
    lua_getfield(L, LUA_REGISTRYINDEX, CS_JSON_ARRAY_MT);
    yes = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return yes;
}

/* Members in table order (not sorted: order carries no meaning in JSON and sorting costs). */
static void cs_je_object(cs_jenc *e, int t, int depth) {
    lua_State *L = e->L;
    int first = 1;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        size_t n;
        const char *k;
        if (lua_type(L, -2) != LUA_TSTRING) lua_pop(L, 1), cs_je_key_error(L);
        k = lua_tolstring(L, -2, &n);
        cs_je_char(e, first ? '{' : ',');
        cs_je_string(e, k, n);
        cs_je_char(e, ':');
        cs_je_value(e, lua_gettop(L), depth);
        lua_pop(L, 1);
        first = 0;
    }
    if (first)
        cs_je_add(e, cs_je_is_array_mt(L, t) ? "[]" : "{}", 2);
    else
        cs_je_char(e, '}');
}

static void cs_je_table(cs_jenc *e, int t, int depth) {
    size_t border = (size_t)lua_rawlen(e->L, t);
    if (depth >= CS_JSON_ENCODE_MAX_DEPTH)
        luaL_error(e->L, "json_encode: tables nested deeper than %d (a reference cycle?)",
                   CS_JSON_ENCODE_MAX_DEPTH);
    luaL_checkstack(e->L, 4, "json_encode: tables nested too deep");
    if (border == 0) {
        cs_je_object(e, t, depth + 1);
        return;
    }
    cs_je_check_array(e->L, t, border);
    cs_je_array(e, t, border, depth + 1);
}

static void cs_je_value(cs_jenc *e, int idx, int depth) {
    lua_State *L = e->L;
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
        cs_je_table(e, idx, depth);
        break;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) {
            cs_je_add(e, "null", 4);
            break;
        }
        /* fall through */
    default:
        luaL_error(L, "json_encode: cannot encode a %s", luaL_typename(L, idx));
    }
}

/* ---------------------------------------------------------------- Lua functions */

static int cs_l_json_decode(lua_State *L) {
    char err[96];
    size_t len;
    const char *s;
    lua_Integer depth;
    if (lua_type(L, 1) != LUA_TSTRING)
        return luaL_argerror(L, 1,
                             lua_pushfstring(L, "string expected, got %s", luaL_typename(L, 1)));
    s = lua_tolstring(L, 1, &len);
    depth = luaL_optinteger(L, 2, CS_JSON_DEFAULT_DEPTH);
    luaL_argcheck(L, depth >= 0 && depth <= INT_MAX, 2, "max_depth must be a non-negative integer");
    lua_settop(L, 2);
    if (cs_json_decode(L, s, len, (int)depth, err, sizeof err)) return 1;
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
}

static int cs_l_json_encode(lua_State *L) {
    cs_jenc e;
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    e.L = L;
    e.len = 0;
    e.cap = 256;
    e.b = (char *)lua_newuserdata(L, e.cap);
    e.slot = 2;
    cs_je_value(&e, 1, 0);
    lua_pushlstring(L, e.b, e.len);
    return 1;
}

static void cs_json_register(lua_State *L) {
    static const luaL_Reg funcs[] = {
        {"json_decode", cs_l_json_decode},
        {"json_encode", cs_l_json_encode},
        {NULL, NULL},
    };
    luaL_setfuncs(L, funcs, 0);
    luaL_newmetatable(L, CS_JSON_ARRAY_MT);
    lua_pushliteral(L, CS_JSON_ARRAY_MT);
    lua_setfield(L, -2, "__name");
    lua_setfield(L, -2, "json_array_mt");
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
}
