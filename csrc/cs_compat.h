/* One small shim so the core builds against Lua 5.1, LuaJIT 2.1, 5.3 and 5.4. */
#ifndef CS_COMPAT_H
#define CS_COMPAT_H

#include <lauxlib.h>
#include <lua.h>

#if LUA_VERSION_NUM < 502
#define lua_rawlen(L, i) lua_objlen(L, (i))
#endif

/* LuaJIT 2.1 already has these 5.2 functions (and defines luaL_newlib); plain 5.1 does not. */
#if LUA_VERSION_NUM < 502 && !defined(luaL_newlib)
#define CS_NEED_SETFUNCS 1
#endif

#ifdef CS_NEED_SETFUNCS
static inline void luaL_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
    luaL_checkstack(L, nup + 1, "too many upvalues");
    for (; l->name != NULL; l++) {
        int i;
        for (i = 0; i < nup; i++)
            lua_pushvalue(L, -nup);
        lua_pushcclosure(L, l->func, nup);
        lua_setfield(L, -(nup + 2), l->name);
    }
    lua_pop(L, nup);
}

static inline void luaL_setmetatable(lua_State *L, const char *tname) {
    luaL_getmetatable(L, tname);
    lua_setmetatable(L, -2);
}

static inline void *luaL_testudata(lua_State *L, int ud, const char *tname) {
    void *p = lua_touserdata(L, ud);
    if (p == NULL || !lua_getmetatable(L, ud)) return NULL;
    luaL_getmetatable(L, tname);
    if (!lua_rawequal(L, -1, -2)) p = NULL;
    lua_pop(L, 2);
    return p;
}

#endif

#ifdef CS_NEED_SETFUNCS
#define luaL_newlib(L, l) (lua_newtable(L), luaL_setfuncs(L, l, 0))
#endif

/* Integers are exact on 5.3+; 5.1 and LuaJIT only have doubles. */
#if LUA_VERSION_NUM >= 503
#define CS_HAS_INTEGERS 1
#define cs_isinteger(L, i) lua_isinteger(L, (i))
#else
#define CS_HAS_INTEGERS 0
#define cs_isinteger(L, i) 0
#endif

#endif
