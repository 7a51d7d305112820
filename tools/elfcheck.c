/* tools/elfcheck.c — can LD_PRELOAD reach this program?  A program with no
 * PT_INTERP and no PT_DYNAMIC segment is statically linked: the dynamic
 * loader never runs, so nothing would be hooked and the report would be
 * empty.  `recycle run` refuses those up front.  Also execvp's PATH search,
 * so the check looks at the file that will really run. */
#define _GNU_SOURCE
#include "cli.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint16_t rd16(const unsigned char *p, bool be) {
    return be ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static uint32_t rd32(const unsigned char *p, bool be) {
    return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
              : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint64_t rd64(const unsigned char *p, bool be) {
    return be ? (uint64_t)rd32(p, true) << 32 | rd32(p + 4, true)
              : (uint64_t)rd32(p + 4, false) << 32 | rd32(p, false);
}

cli_elf_kind cli_elf_classify(const char *path, char *interp, size_t len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return CLI_ELF_ERROR;
    unsigned char hdr[64];
    ssize_t n = pread(fd, hdr, sizeof hdr, 0);
    if (n >= 2 && hdr[0] == '#' && hdr[1] == '!') {
        char line[256];
        ssize_t m = pread(fd, line, sizeof line - 1, 0);
        close(fd);
        if (m < 2)
            return CLI_ELF_ERROR;
        line[m] = 0;
        char *p = line + 2;
        p += strspn(p, " \t");
        size_t w = strcspn(p, " \t\n");
        if (w == 0 || w >= len)
            return CLI_ELF_ERROR;
        memcpy(interp, p, w);
        interp[w] = 0;
        return CLI_ELF_SCRIPT;
    }
    if (n < 16 || memcmp(hdr, ELFMAG, SELFMAG) != 0) {
        close(fd);
        return n < 0 ? CLI_ELF_ERROR : CLI_ELF_NOT_ELF;
    }
    bool is64 = hdr[EI_CLASS] == ELFCLASS64;
    bool be = hdr[EI_DATA] == ELFDATA2MSB;
    if ((hdr[EI_CLASS] != ELFCLASS32 && !is64) ||
        (hdr[EI_DATA] != ELFDATA2LSB && hdr[EI_DATA] != ELFDATA2MSB) || n < (is64 ? 64 : 52)) {
        close(fd);
        return CLI_ELF_ERROR;
    }
    uint64_t phoff = is64 ? rd64(hdr + 32, be) : rd32(hdr + 28, be);
    uint16_t phentsize = rd16(hdr + (is64 ? 54 : 42), be);
    uint16_t phnum = rd16(hdr + (is64 ? 56 : 44), be);
    if (phentsize < (is64 ? 56 : 32) || phnum == 0 || phnum > 4096) {
        close(fd);
        return CLI_ELF_ERROR;
    }
    cli_elf_kind kind = CLI_ELF_STATIC;
    for (uint16_t i = 0; i < phnum; i++) {
        unsigned char ph[4];
        if (pread(fd, ph, sizeof ph, (off_t)(phoff + (uint64_t)i * phentsize)) != 4) {
            kind = CLI_ELF_ERROR;
            break;
        }
        uint32_t type = rd32(ph, be);
        if (type == PT_INTERP || type == PT_DYNAMIC) {
            kind = CLI_ELF_DYNAMIC;
            break;
        }
    }
    close(fd);
    return kind;
}

cli_elf_kind cli_elf_check_program(const char *path, char *final, size_t len) {
    char cur[4096], next[4096];
    if (strlen(path) >= sizeof cur)
        return CLI_ELF_ERROR;
    strcpy(cur, path);
    for (int depth = 0; depth < 5; depth++) {
        cli_elf_kind k = cli_elf_classify(cur, next, sizeof next);
        if (k != CLI_ELF_SCRIPT) {
            if (final && len)
                snprintf(final, len, "%s", cur);
            return k;
        }
        strcpy(cur, next);
    }
    return CLI_ELF_ERROR;
}

bool cli_find_program(const char *file, char *out, size_t len, int *err) {
    struct stat st;
    *err = ENOENT;
    if (!*file)
        return false;
    if (strchr(file, '/')) {
        if (stat(file, &st) != 0) {
            *err = errno;
            return false;
        }
        if (S_ISDIR(st.st_mode) || access(file, X_OK) != 0) {
            *err = EACCES;
            return false;
        }
        snprintf(out, len, "%s", file);
        return true;
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    bool denied = false;
    for (const char *p = path;; p++) {
        const char *e = strchrnul(p, ':');
        size_t dlen = (size_t)(e - p);
        if ((int)snprintf(out, len, "%.*s%s%s", (int)dlen, dlen ? p : "", dlen ? "/" : "", file) <
                (int)len &&
            stat(out, &st) == 0 && !S_ISDIR(st.st_mode)) {
            if (access(out, X_OK) == 0)
                return true;
            denied = true;
        }
        if (!*e)
            break;
        p = e;
    }
    *err = denied ? EACCES : ENOENT;
    return false;
}
