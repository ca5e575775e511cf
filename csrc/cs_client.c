/* connectstatus.Client: one libcurl easy handle, its credentials and its receive buffer.
 * libcurl callbacks only touch C memory; Lua values are built after each transfer, so no Lua
 * error can ever longjmp through libcurl. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CS_CLIENT "connectstatus.Client"
#define CS_BODY_INITIAL (16 * 1024)
#define CS_BODY_KEEP (16 * 1024 * 1024) /* larger buffers are released after the transfer */
#define CS_SNIPPET_MAX 512
#define CS_HEADER_VALUE_MAX 128

typedef struct {
    char request_id[CS_HEADER_VALUE_MAX];
    char retry_after[CS_HEADER_VALUE_MAX];
    char rl_limit[32];
    char rl_remaining[32];
    char rl_reset[32];
} cs_meta;

typedef struct {
    CURL *curl; /* NULL once closed */
    struct curl_slist *headers;
    char *base_url;
    size_t base_len;
    size_t origin_len; /* "scheme://host:port" prefix of base_url */
    char *url;
    size_t url_cap;
    char *body;
    size_t body_len, body_cap, body_max;
    int too_large;
    int max_depth;
    int max_redirects;
    cs_meta meta;
    char errbuf[CURL_ERROR_SIZE];
} cs_client;

/* A wipe the compiler may not elide. */
static void cs_wipe(void *p, size_t n) {
    volatile unsigned char *v = (volatile unsigned char *)p;
    while (n--)
        *v++ = 0;
}

static void cs_client_release(cs_client *c) {
    struct curl_slist *node;
    if (c->curl == NULL) return;
    curl_easy_cleanup(c->curl);
    c->curl = NULL;
    for (node = c->headers; node != NULL; node = node->next)
        cs_wipe(node->data, strlen(node->data));
    curl_slist_free_all(c->headers);
    c->headers = NULL;
    free(c->base_url);
    free(c->url);
    free(c->body);
    c->base_url = c->url = c->body = NULL;
    c->body_len = c->body_cap = c->url_cap = 0;
}

static cs_client *cs_check_client(lua_State *L) {
    cs_client *c = (cs_client *)luaL_checkudata(L, 1, CS_CLIENT);
    if (c->curl == NULL) luaL_error(L, "attempt to use a closed connectstatus client");
    return c;
}

/* ---- libcurl callbacks: C memory only ---- */

static size_t cs_on_body(char *data, size_t size, size_t n, void *ud) {
    cs_client *c = (cs_client *)ud;
    size_t len = size * n;
    if (len > c->body_max - c->body_len) {
        c->too_large = 1;
        return 0;
    }
    if (c->body_len + len > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap : CS_BODY_INITIAL;
        char *grown;
        while (cap < c->body_len + len)
            cap *= 2;
        if (cap > c->body_max) cap = c->body_max;
        grown = (char *)realloc(c->body, cap);
        if (grown == NULL) return 0;
        c->body = grown;
        c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, data, len);
    c->body_len += len;
    return len;
}

static void cs_copy_value(char *dst, size_t cap, const char *v, size_t len) {
    while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
        len--;
    if (len >= cap) len = cap - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

static int cs_header_is(const char *line, size_t len, const char *name, size_t *value_at) {
    size_t n = strlen(name), i;
    if (len <= n || line[n] != ':') return 0;
    for (i = 0; i < n; i++) {
        char ch = line[i];
        if (ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
        if (ch != name[i]) return 0;
    }
    i = n + 1;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    *value_at = i;
    return 1;
}

static size_t cs_on_header(char *line, size_t size, size_t n, void *ud) {
    cs_client *c = (cs_client *)ud;
    size_t len = size * n, at;
    cs_meta *m = &c->meta;
    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        memset(m, 0, sizeof *m); /* a new response (redirect, 100 Continue) starts afresh */
    } else if (cs_header_is(line, len, "x-request-id", &at)) {
        cs_copy_value(m->request_id, sizeof m->request_id, line + at, len - at);
    } else if (cs_header_is(line, len, "retry-after", &at)) {
        cs_copy_value(m->retry_after, sizeof m->retry_after, line + at, len - at);
    } else if (cs_header_is(line, len, "x-ratelimit-limit", &at)) {
        cs_copy_value(m->rl_limit, sizeof m->rl_limit, line + at, len - at);
    } else if (cs_header_is(line, len, "x-ratelimit-remaining", &at)) {
        cs_copy_value(m->rl_remaining, sizeof m->rl_remaining, line + at, len - at);
    } else if (cs_header_is(line, len, "x-ratelimit-reset", &at)) {
        cs_copy_value(m->rl_reset, sizeof m->rl_reset, line + at, len - at);
    }
    return len;
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

static const char *cs_opt_string(lua_State *L, const char *field) {
    size_t len;
    return cs_opt_lstring(L, field, &len);
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

static lua_Number cs_opt_number(lua_State *L, const char *field, lua_Number def) {
    lua_Number v;
    lua_getfield(L, 1, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return def;
    }
    if (lua_type(L, -1) != LUA_TNUMBER) luaL_error(L, "option '%s' must be a number", field);
    v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
}

static void cs_add_header(lua_State *L, cs_client *c, const char *line) {
    struct curl_slist *next = curl_slist_append(c->headers, line);
    if (next == NULL) luaL_error(L, "out of memory");
    c->headers = next;
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

/* Builds "Authorization: Basic|Bearer ..." in scratch memory that is wiped before it is freed;
 * libcurl's copy lives in the header list, which close() wipes too. */
static void cs_add_auth(lua_State *L, cs_client *c) {
    const char *user = cs_opt_header_value(L, "username");
    const char *pass = cs_opt_header_value(L, "password");
    const char *token = cs_opt_header_value(L, "token");
    size_t ulen, plen, cap;
    char *raw, *line;
    if (token != NULL) {
        cap = strlen(token) + 32;
        line = (char *)malloc(cap);
        if (line == NULL) luaL_error(L, "out of memory");
        snprintf(line, cap, "Authorization: Bearer %s", token);
    } else if (user != NULL && pass != NULL) {
        ulen = strlen(user);
        plen = strlen(pass);
        cap = 4 * ((ulen + plen + 3) / 3) + 32;
        raw = (char *)malloc(ulen + plen + 2);
        line = (char *)malloc(cap);
        if (raw == NULL || line == NULL) {
            free(raw);
            free(line);
            luaL_error(L, "out of memory");
        }
        memcpy(raw, user, ulen);
        raw[ulen] = ':';
        memcpy(raw + ulen + 1, pass, plen);
        memcpy(line, "Authorization: Basic ", 21);
        cs_base64((const unsigned char *)raw, ulen + plen + 1, line + 21);
        cs_wipe(raw, ulen + plen + 1);
        free(raw);
    } else {
        return;
    }
    c->headers = curl_slist_append(c->headers, line);
    cs_wipe(line, strlen(line));
    free(line);
    if (c->headers == NULL) luaL_error(L, "out of memory");
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
    for (i = 1; i <= n; i++) {
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

static void cs_set_protocols(CURL *curl) {
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}

static void cs_set_tls_and_proxy(lua_State *L, cs_client *c) {
    const char *cafile = cs_opt_string(L, "cafile");
    const char *capath = cs_opt_string(L, "capath");
    const char *proxy = cs_opt_string(L, "proxy");
    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (cafile != NULL) curl_easy_setopt(c->curl, CURLOPT_CAINFO, cafile);
    if (capath != NULL) curl_easy_setopt(c->curl, CURLOPT_CAPATH, capath);
    if (proxy != NULL) curl_easy_setopt(c->curl, CURLOPT_PROXY, proxy);
}

static void cs_set_limits(lua_State *L, cs_client *c) {
    lua_Number timeout = cs_opt_number(L, "timeout", 30);
    lua_Number connect_timeout = cs_opt_number(L, "connect_timeout", 10);
    lua_Number stall = cs_opt_number(L, "stall_timeout", timeout < 30 ? timeout : 30);
    lua_Number max_body = cs_opt_number(L, "max_body", 64.0 * 1024 * 1024);
    if (!(timeout > 0) || !(connect_timeout > 0) || !(stall > 0))
        luaL_error(L, "timeouts must be positive numbers of seconds");
    if (!(max_body >= 1) || max_body > 4e9) luaL_error(L, "max_body must be 1 .. 4e9 bytes");
    c->body_max = (size_t)max_body;
    c->max_depth = (int)cs_opt_number(L, "max_depth", 128);
    c->max_redirects = (int)cs_opt_number(L, "max_redirects", 3);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)(connect_timeout * 1000));
    curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, (long)(stall < 1 ? 1 : stall));
    curl_easy_setopt(c->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->body_max);
}

static void cs_acquire(lua_State *L, cs_client *c) {
    const char *base_url = cs_opt_string(L, "base_url");
    const char *agent = cs_opt_string(L, "user_agent");
    if (base_url == NULL) luaL_error(L, "option 'base_url' is required");
    c->base_url = strdup(base_url);
    c->curl = curl_easy_init();
    if (c->base_url == NULL || c->curl == NULL) luaL_error(L, "cannot create a libcurl handle");
    c->base_len = strlen(base_url);
    c->origin_len = cs_origin_length(base_url);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, cs_on_body);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, cs_on_header);
    curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    if (agent != NULL) curl_easy_setopt(c->curl, CURLOPT_USERAGENT, agent);
    cs_set_protocols(c->curl);
    cs_set_tls_and_proxy(L, c);
    cs_set_limits(L, c);
    cs_add_header(L, c, "Accept: application/json");
    cs_add_extra_headers(L, c);
    cs_add_auth(L, c);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
}

static int cs_l_new_client(lua_State *L) {
    cs_client *c;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    /* Created closed first, so __gc cleans up whatever acquisition managed before an error. */
    c = (cs_client *)lua_newuserdata(L, sizeof *c);
    memset(c, 0, sizeof *c);
    luaL_setmetatable(L, CS_CLIENT);
    cs_acquire(L, c);
    return 1;
}

/* ---- requests ---- */

static const char *cs_kind_of(CURLcode rc, int too_large) {
    if (too_large) return "too_large";
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return "connect";
    case CURLE_FILESIZE_EXCEEDED:
        return "too_large";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return "tls";
    default:
        return "transport";
    }
}

static int cs_set_url(cs_client *c, const char *path, size_t plen) {
    if (c->base_len + plen + 1 > c->url_cap) {
        size_t cap = c->base_len + plen + 64;
        char *grown = (char *)realloc(c->url, cap);
        if (grown == NULL) return 0;
        c->url = grown;
        c->url_cap = cap;
    }
    memcpy(c->url, c->base_url, c->base_len);
    memcpy(c->url + c->base_len, path, plen);
    c->url[c->base_len + plen] = '\0';
    return 1;
}

static CURLcode cs_perform(cs_client *c, const char *url) {
    c->body_len = 0;
    c->too_large = 0;
    c->errbuf[0] = '\0';
    memset(&c->meta, 0, sizeof c->meta);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    return curl_easy_perform(c->curl);
}

static int cs_same_origin(const cs_client *c, const char *url) {
    return url != NULL && cs_origin_length(url) == c->origin_len &&
           strncmp(url, c->base_url, c->origin_len) == 0 && url[c->origin_len] == '/';
}

/* Follows redirects that stay on the base URL's origin; others come back as the 3xx itself. */
static CURLcode cs_transfer(cs_client *c, long *status, char **location) {
    CURLcode rc = cs_perform(c, c->url);
    int hops = 0;
    *location = NULL;
    while (rc == CURLE_OK) {
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
        if (*status < 300 || *status > 399) break;
        curl_easy_getinfo(c->curl, CURLINFO_REDIRECT_URL, location);
        if (!cs_same_origin(c, *location) || hops++ >= c->max_redirects) break;
        rc = cs_perform(c, *location);
        *location = NULL;
    }
    return rc;
}

static void cs_push_meta_field(lua_State *L, const char *key, const char *value) {
    if (value[0] == '\0') return;
    lua_pushstring(L, value);
    lua_setfield(L, -2, key);
}

static void cs_push_meta(lua_State *L, const cs_client *c, const char *location) {
    const cs_meta *m = &c->meta;
    if (!m->request_id[0] && !m->retry_after[0] && !m->rl_limit[0] && !m->rl_remaining[0] &&
        !m->rl_reset[0] && location == NULL) {
        lua_pushnil(L);
        return;
    }
    lua_createtable(L, 0, 6);
    cs_push_meta_field(L, "request_id", m->request_id);
    cs_push_meta_field(L, "retry_after", m->retry_after);
    cs_push_meta_field(L, "ratelimit_limit", m->rl_limit);
    cs_push_meta_field(L, "ratelimit_remaining", m->rl_remaining);
    cs_push_meta_field(L, "ratelimit_reset", m->rl_reset);
    if (location != NULL) {
        /* Only the origin: a Location may carry credentials or tokens in its query. */
        lua_pushlstring(L, location, cs_origin_length(location));
        lua_setfield(L, -2, "location_origin");
    }
}

static void cs_release_big_buffer(cs_client *c) {
    if (c->body_cap <= CS_BODY_KEEP) return;
    free(c->body);
    c->body = NULL;
    c->body_cap = 0;
}

/* client:get(path) -> status, body, meta, decode_error | nil, kind, message
 * body is the decoded JSON, or on a decode failure the first 512 bytes as a string. */
static int cs_l_get(lua_State *L) {
    cs_client *c = cs_check_client(L);
    size_t plen;
    const char *path = luaL_checklstring(L, 2, &plen);
    char *location;
    char err[160];
    long status = 0;
    CURLcode rc;
    if (!cs_set_url(c, path, plen)) return luaL_error(L, "out of memory");
    rc = cs_transfer(c, &status, &location);
    if (rc != CURLE_OK) {
        const char *kind = cs_kind_of(rc, c->too_large);
        cs_release_big_buffer(c);
        lua_pushnil(L);
        lua_pushstring(L, kind);
        if (c->too_large || rc == CURLE_FILESIZE_EXCEEDED)
            lua_pushfstring(L, "response body exceeds %d bytes", (int)c->body_max);
        else
            lua_pushstring(L, c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
        return 3;
    }
    lua_pushinteger(L, (lua_Integer)status);
    if (c->body_len == 0) {
        lua_pushnil(L);
        cs_push_meta(L, c, location);
        return 3;
    }
    if (cs_json_decode(L, c->body, c->body_len, c->max_depth, err, sizeof err)) {
        cs_push_meta(L, c, location);
        cs_release_big_buffer(c);
        return 3;
    }
    lua_pushlstring(L, c->body, c->body_len < CS_SNIPPET_MAX ? c->body_len : CS_SNIPPET_MAX);
    cs_push_meta(L, c, location);
    lua_pushstring(L, err);
    cs_release_big_buffer(c);
    return 4;
}

static int cs_l_close(lua_State *L) {
    cs_client_release((cs_client *)luaL_checkudata(L, 1, CS_CLIENT));
    return 0;
}

static int cs_l_tostring(lua_State *L) {
    cs_client *c = (cs_client *)luaL_checkudata(L, 1, CS_CLIENT);
    if (c->curl == NULL)
        lua_pushliteral(L, "connectstatus.Client (closed)");
    else
        lua_pushfstring(L, "connectstatus.Client (%p)", (void *)c);
    return 1;
}

static void cs_client_register(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"get", cs_l_get},
        {"close", cs_l_close},
        {NULL, NULL},
    };
    static const luaL_Reg meta[] = {
        {"__gc", cs_l_close},
        {"__close", cs_l_close},
        {"__tostring", cs_l_tostring},
        {NULL, NULL},
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    luaL_newmetatable(L, CS_CLIENT);
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "private");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    lua_pushcfunction(L, cs_l_new_client);
    lua_setfield(L, -2, "new_client");
    lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
    lua_setfield(L, -2, "curl_version");
}
