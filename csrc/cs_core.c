/* connectstatus.core: the C half of connectstatus. The build compiles this one file; it pulls in
 * the other csrc files so that every function but luaopen_connectstatus_core stays static. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <time.h>

#include "cs_compat.h"

#include "cs_json.c"

#include "cs_client.c"

#include "cs_cloexec.c"

#include "cs_transfer.c"

#include "cs_multi.c"

#define CS_VERSION "0.1.0"

static int cs_l_monotonic(lua_State *L) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

/* Sleeps on the monotonic clock until the full time has passed, resuming after signals, except
 * after an interruption (cs_watch): the hook Lua's interpreter set raises as soon as this returns.
 */
static int cs_l_sleep(lua_State *L) {
    cs_watch watch;
    lua_Number secs = luaL_checknumber(L, 1);
    struct timespec deadline;
    luaL_argcheck(L, secs >= 0 && secs < 1e9, 1, "seconds must be between 0 and 1e9");
    cs_watch_start(L, &watch);
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)secs;
    deadline.tv_nsec += (long)((secs - (lua_Number)(time_t)secs) * 1e9);
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == EINTR &&
           !cs_watch_interrupted(&watch)) {
    }
    return 0;
}

/* base64 of a string: the transport redacts a Basic credential's encoded form from messages. */
static int cs_l_base64(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    char *out;
    luaL_argcheck(L, len < 65536, 1, "at most 64 KiB");
    out = (char *)lua_newuserdata(L, 4 * ((len + 2) / 3) + 1);
    cs_base64((const unsigned char *)s, len, out);
    lua_pushstring(L, out);
    return 1;
}

__attribute__((visibility("default"))) int luaopen_connectstatus_core(lua_State *L);

int luaopen_connectstatus_core(lua_State *L) {
    static const luaL_Reg funcs[] = {
        {"monotonic", cs_l_monotonic},
        {"sleep", cs_l_sleep},
        {"base64", cs_l_base64},
        {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    cs_json_register(L);
    cs_client_register(L);
    cs_multi_register(L);
    lua_pushliteral(L, CS_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}
