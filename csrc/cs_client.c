/* connectstatus.Client: what every transfer of one API client shares (base URL, header lists
 * with the credentials, TLS options, limits). It performs nothing itself: a connectstatus.Transfer
 * (cs_transfer.c) borrows it for one exchange at a time, so many exchanges of one client can be in
 * flight at once. Credentials live only in C memory and are wiped when the client goes. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CS_CLIENT "connectstatus.Client"
#define CS_CLIENT_WEIGHT (32 * 1024)

/* The sockets libcurl opened into one connection cache: a blocking client's, or a multi's. The
 * callbacks of a cached connection outlive its transfer, so the list is freed when its owner and
 * its last socket are gone. */
typedef struct {
    int refs;      /* the owner, plus one per open socket, listed or not */
    int exhausted; /* a socket could not be opened for want of descriptors */
    size_t n, cap;
    curl_socket_t *fds;
} cs_sockets;

static cs_sockets *cs_sockets_new(void) {
    cs_sockets *s = (cs_sockets *)calloc(1, sizeof *s);
    if (s != NULL) s->refs = 1;
    return s;
}

static void cs_sockets_unref(cs_sockets *s) {
    if (--s->refs > 0) return;
    free(s->fds);
    free(s);
}

/* Called from libcurl: C memory only. A socket that does not fit is not listed, but it is
 * counted: its close comes back here all the same. */
static void cs_sockets_add(cs_sockets *s, curl_socket_t sock) {
    s->refs++;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        curl_socket_t *grown = (curl_socket_t *)realloc(s->fds, cap * sizeof *grown);
        if (grown == NULL) return;
        s->fds = grown;
        s->cap = cap;
    }
    s->fds[s->n++] = sock;
}

static void cs_sockets_remove(cs_sockets *s, curl_socket_t sock) {
    size_t i;
    for (i = 0; i < s->n; i++) {
        if (s->fds[i] != sock) continue;
        s->fds[i] = s->fds[--s->n];
        break;
    }
    cs_sockets_unref(s);
}

/* The socket's own port, or with peer its remote one. */
static int cs_port(curl_socket_t sock, int peer) {
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    if ((peer ? getpeername(sock, (struct sockaddr *)&addr, &len)
              : getsockname(sock, (struct sockaddr *)&addr, &len)) != 0)
        return -1;
    if (addr.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&addr)->sin_port);
    if (addr.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    return -1;
}

/* Linux gives connections to different servers the same local port when it can, so a multi
 * talking to several hosts may hold two sockets with one local port: the remote port tells
 * them apart. */
static curl_socket_t cs_sockets_find(const cs_sockets *s, int local_port, int port) {
    size_t i;
    for (i = 0; i < s->n; i++)
        if (cs_port(s->fds[i], 0) == local_port && cs_port(s->fds[i], 1) == port) return s->fds[i];
    return CURL_SOCKET_BAD;
}

typedef struct {
    int open;          /* 0 once closed: no new transfers */
    int borrowers;     /* live transfers; the memory below outlives close() until they are gone */
    int has_resources; /* 1 until the memory below is released */
    struct curl_slist *headers;      /* the transport's header lines, then Authorization */
    struct curl_slist *json_headers; /* the same and Content-Type, for requests with a body */
    char *base_url;
    size_t base_len;
    size_t origin_len; /* "scheme://host:port" prefix of base_url */
    char *cafile, *capath, *proxy;
    long timeout_ms, connect_ms, stall_s;
    size_t body_max;
    int max_depth;
    cs_sockets *sockets;
} cs_client;

/* A wipe the compiler may not elide. */
static void cs_wipe(void *p, size_t n) {
    volatile unsigned char *v = (volatile unsigned char *)p;
    while (n--)
        *v++ = 0;
}

static void cs_free_headers(struct curl_slist *list) {
    struct curl_slist *node;
    for (node = list; node != NULL; node = node->next)
        cs_wipe(node->data, strlen(node->data));
    curl_slist_free_all(list);
}

static void cs_client_free_resources(cs_client *c) {
    if (!c->has_resources) return;
    c->has_resources = 0;
    cs_free_headers(c->headers);
    cs_free_headers(c->json_headers);
    c->headers = c->json_headers = NULL;
    free(c->base_url);
    free(c->cafile);
    free(c->capath);
    free(c->proxy);
    c->base_url = c->cafile = c->capath = c->proxy = NULL;
    if (c->sockets != NULL) cs_sockets_unref(c->sockets);
    c->sockets = NULL;
}

static void cs_client_release(cs_client *c) {
    c->open = 0;
    if (c->borrowers == 0) cs_client_free_resources(c);
}

/* ---- construction ---- */

/* Strings stay referenced by the options table, which stays on the stack during construction. */
static const char *cs_opt_lstring(lua_State *L, const char *field, size_t *len) {
    const char *s;
    lua_getfield(L, 1, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "option '%s' must be a string", field);
    s = lua_tolstring(L, -1, len);
    lua_pop(L, 1);
    return s;
}

/* Header values must not smuggle a second header or end the head early; the message never
 * includes the value, which may be a secret. */
static const char *cs_opt_header_value(lua_State *L, const char *field) {
    size_t len;
    const char *s = cs_opt_lstring(L, field, &len);
    if (s != NULL && (strlen(s) != len || strcspn(s, "\r\n") != len))
        luaL_error(L, "option '%s' contains CR, LF or NUL", field);
    return s;
}

static char *cs_opt_copy(lua_State *L, const char *field) {
    const char *s = cs_opt_header_value(L, field);
    char *copy;
    if (s == NULL) return NULL;
    copy = strdup(s);
    if (copy == NULL) luaL_error(L, "out of memory");
    return copy;
}

/* A number option within [lo, hi], or def when absent; NaN never passes the range check. */
static lua_Number cs_opt_number(lua_State *L, const char *field, lua_Number def, lua_Number lo,
                                lua_Number hi) {
    lua_Number v;
    lua_getfield(L, 1, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return def;
    }
    if (lua_type(L, -1) != LUA_TNUMBER) luaL_error(L, "option '%s' must be a number", field);
    v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!(v >= lo && v <= hi))
        luaL_error(L, "option '%s' must be between %f and %f", field, lo, hi);
    return v;
}

static int cs_opt_integer(lua_State *L, const char *field, int def, int lo, int hi) {
    lua_Number v = cs_opt_number(L, field, def, lo, hi);
    if (v != (lua_Number)(int)v) luaL_error(L, "option '%s' must be a whole number", field);
    return (int)v;
}

static void cs_append(lua_State *L, struct curl_slist **list, const char *line) {
    struct curl_slist *next = curl_slist_append(*list, line);
    if (next == NULL) luaL_error(L, "out of memory");
    *list = next;
}

static void cs_add_header(lua_State *L, cs_client *c, const char *line) {
    cs_append(L, &c->headers, line);
    cs_append(L, &c->json_headers, line);
}

static const char cs_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void cs_base64(const unsigned char *in, size_t len, char *out) {
    size_t i;
    for (i = 0; i + 2 < len; i += 3) {
        *out++ = cs_b64[in[i] >> 2];
        *out++ = cs_b64[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
        *out++ = cs_b64[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
        *out++ = cs_b64[in[i + 2] & 63];
    }
    if (i < len) {
        *out++ = cs_b64[in[i] >> 2];
        if (i + 1 < len) {
            *out++ = cs_b64[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
            *out++ = cs_b64[(in[i + 1] & 15) << 2];
        } else {
            *out++ = cs_b64[(in[i] & 3) << 4];
            *out++ = '=';
        }
        *out++ = '=';
    }
    *out = '\0';
}

/* "Authorization: Basic base64(user:pass)" in malloc'd memory the caller wipes and frees. */
static char *cs_basic_auth(const char *user, const char *pass) {
    size_t ulen = strlen(user), plen = strlen(pass);
    char *raw = (char *)malloc(ulen + plen + 2);
    char *line = (char *)malloc(4 * ((ulen + plen + 3) / 3) + 32);
    if (raw == NULL || line == NULL) {
        free(raw);
        free(line);
        return NULL;
    }
    memcpy(raw, user, ulen);
    raw[ulen] = ':';
    memcpy(raw + ulen + 1, pass, plen);
    memcpy(line, "Authorization: Basic ", 21);
    cs_base64((const unsigned char *)raw, ulen + plen + 1, line + 21);
    cs_wipe(raw, ulen + plen + 1);
    free(raw);
    return line;
}

/* The Authorization line is built in scratch memory that is wiped before it is freed; libcurl's
 * copies live in the header lists, which are wiped too. */
static void cs_add_auth(lua_State *L, cs_client *c) {
    const char *user = cs_opt_header_value(L, "username");
    const char *pass = cs_opt_header_value(L, "password");
    const char *token = cs_opt_header_value(L, "token");
    struct curl_slist *next;
    char *line;
    if (token != NULL) {
        size_t cap = strlen(token) + 32;
        line = (char *)malloc(cap);
        if (line != NULL) snprintf(line, cap, "Authorization: Bearer %s", token);
    } else if (user != NULL && pass != NULL) {
        line = cs_basic_auth(user, pass);
    } else {
        return;
    }
    if (line == NULL) luaL_error(L, "out of memory");
    /* A failed append leaves the list as it was, to be wiped and freed with the client. */
    next = curl_slist_append(c->headers, line);
    if (next != NULL) {
        c->headers = next;
        next = curl_slist_append(c->json_headers, line);
        if (next != NULL) c->json_headers = next;
    }
    cs_wipe(line, strlen(line));
    free(line);
    if (next == NULL) luaL_error(L, "out of memory");
}

static void cs_add_extra_headers(lua_State *L, cs_client *c) {
    size_t i, n;
    lua_getfield(L, 1, "headers");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    luaL_checktype(L, -1, LUA_TTABLE);
    n = lua_rawlen(L, -1);
    for (i = 1; i <= n && i < 1000; i++) {
        size_t len;
        const char *line;
        lua_rawgeti(L, -1, (int)i);
        line = lua_tolstring(L, -1, &len);
        if (line == NULL || strcspn(line, "\r\n") != len || strchr(line, ':') == NULL)
            luaL_error(L, "header %d must be one 'Name: value' line without CR, LF or NUL", (int)i);
        cs_add_header(L, c, line);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static size_t cs_origin_length(const char *url) {
    const char *p = strstr(url, "://");
    if (p == NULL) return strlen(url);
    p += 3;
    return (size_t)(p - url) + strcspn(p, "/?#");
}

/* Seconds within (0, 1 day]; NaN never passes. */
static lua_Number cs_opt_seconds(lua_State *L, const char *field, lua_Number def) {
    lua_Number v = cs_opt_number(L, field, def, -1, 86400);
    if (!(v > 0)) luaL_error(L, "option '%s' must be a positive number of seconds", field);
    return v;
}

/* Whole milliseconds, rounded up: libcurl reads 0 as "no limit". */
static long cs_ms(lua_Number seconds) {
    long ms = (long)(seconds * 1000);
    return (lua_Number)ms < seconds * 1000 ? ms + 1 : ms;
}

static void cs_set_limits(lua_State *L, cs_client *c) {
    lua_Number timeout = cs_opt_seconds(L, "timeout", 30);
    lua_Number connect = cs_opt_seconds(L, "connect_timeout", 10);
    lua_Number stall = cs_opt_seconds(L, "stall_timeout", timeout < 30 ? timeout : 30);
    c->body_max = (size_t)cs_opt_number(L, "max_body", 64.0 * 1024 * 1024, 1, 4e9);
    c->max_depth = cs_opt_integer(L, "max_depth", 128, 1, 100000);
    c->timeout_ms = cs_ms(timeout);
    c->connect_ms = cs_ms(connect);
    /* libcurl counts the stall window in whole seconds. */
    c->stall_s = stall < 1 ? 1 : (long)(stall + 0.5);
}

static void cs_acquire(lua_State *L, cs_client *c) {
    size_t len;
    const char *base_url = cs_opt_lstring(L, "base_url", &len);
    if (base_url == NULL) luaL_error(L, "option 'base_url' is required");
    if (strlen(base_url) != len || strcspn(base_url, " \r\n\t") != len)
        luaL_error(L, "option 'base_url' contains spaces or control characters");
    c->has_resources = 1;
    c->base_url = strdup(base_url);
    c->sockets = cs_sockets_new();
    if (c->base_url == NULL || c->sockets == NULL) luaL_error(L, "out of memory");
    c->base_len = len;
    c->origin_len = cs_origin_length(base_url);
    c->cafile = cs_opt_copy(L, "cafile");
    c->capath = cs_opt_copy(L, "capath");
    c->proxy = cs_opt_copy(L, "proxy");
    cs_set_limits(L, c);
    cs_add_extra_headers(L, c);
    cs_append(L, &c->json_headers, "Content-Type: application/json");
    cs_append(L, &c->json_headers, "Expect:"); /* no 100-continue round trip before a body */
    cs_add_auth(L, c);
    c->open = 1;
}

static int cs_l_new_client(lua_State *L) {
    cs_client *c;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    /* Created closed first, so __gc cleans up whatever acquisition managed before an error. The
     * userdata is as large as what the client holds outside Lua (header lists, libcurl's handle
     * and buffers, a socket), so that the collector gets to unclosed clients before the process
     * runs out of descriptors; the padding is never touched. */
    c = (cs_client *)lua_newuserdata(L, sizeof *c + CS_CLIENT_WEIGHT);
    memset(c, 0, sizeof *c);
    luaL_setmetatable(L, CS_CLIENT);
    cs_acquire(L, c);
    return 1;
}

static cs_client *cs_check_client(lua_State *L, int idx) {
    cs_client *c = (cs_client *)luaL_checkudata(L, idx, CS_CLIENT);
    if (!c->open) luaL_error(L, "attempt to use a closed connectstatus client");
    return c;
}

static int cs_l_client_close(lua_State *L) {
    cs_client_release((cs_client *)luaL_checkudata(L, 1, CS_CLIENT));
    return 0;
}

static int cs_l_client_is_closed(lua_State *L) {
    lua_pushboolean(L, !((cs_client *)luaL_checkudata(L, 1, CS_CLIENT))->open);
    return 1;
}

static int cs_l_client_tostring(lua_State *L) {
    cs_client *c = (cs_client *)luaL_checkudata(L, 1, CS_CLIENT);
    if (!c->open)
        lua_pushliteral(L, "connectstatus.Client (closed)");
    else
        lua_pushfstring(L, "connectstatus.Client (%p)", (void *)c);
    return 1;
}
