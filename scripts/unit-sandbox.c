/*
 * unit-sandbox: runs a command under the seccomp part of edge-agent.service, for tests on
 * machines where systemd is not PID 1 (CI, containers).
 *
 *   unit-sandbox ALLOWED_SYSCALLS_FILE -- COMMAND [ARGS...]
 *
 * What it applies, as systemd does for the unit's directives:
 *   NoNewPrivileges=yes             prctl(PR_SET_NO_NEW_PRIVS)
 *   SystemCallFilter=...            only the syscalls named in the file (one per line; the test
 *                                   writes it from `systemd-analyze syscall-filter`, so the set is
 *                                   systemd's own); anything else kills the process (stricter
 *                                   than the unit's SystemCallErrorNumber=EPERM, so a missing
 *                                   syscall cannot go unnoticed)
 *   SystemCallArchitectures=native  other ABIs (x32, i386) kill the process
 *   MemoryDenyWriteExecute=yes      mmap with PROT_WRITE|PROT_EXEC, mprotect/pkey_mprotect adding
 *                                   PROT_EXEC and shmat with SHM_EXEC fail with EPERM
 *   RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
 *                                   socket() with another family kills the process (systemd
 *                                   answers EAFNOSUPPORT; stricter here for the same reason)
 *   CapabilityBoundingSet=          every capability dropped from the bounding set
 *
 * The mount namespace directives (ProtectSystem=, ProtectHome=, ...) are not modelled.
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <linux/capability.h>
#include <unistd.h>

static int fail(const char *what, int code) {
    fprintf(stderr, "unit-sandbox: %s: %s\n", what, strerror(code < 0 ? -code : code));
    return 111;
}

int main(int argc, char **argv) {
    if (argc < 4 || strcmp(argv[2], "--") != 0) {
        fprintf(stderr, "usage: unit-sandbox ALLOWED_SYSCALLS_FILE -- COMMAND [ARGS...]\n");
        return 2;
    }
    /* As root the bounding set is emptied here; an unprivileged caller (setpriv --reuid ...
       --bounding-set=-all) arrives with it emptied already and may not change it. */
    for (int cap = 0; geteuid() == 0 && cap <= CAP_LAST_CAP; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return fail("PR_CAPBSET_DROP", errno);
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail("PR_SET_NO_NEW_PRIVS", errno);

    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (ctx == NULL) return fail("seccomp_init", ENOMEM);

    FILE *list = fopen(argv[1], "r");
    if (list == NULL) return fail(argv[1], errno);
    char name[128];
    int allowed = 0;
    while (fscanf(list, "%127s", name) == 1) {
        int number = seccomp_syscall_resolve_name(name);
        if (number == __NR_SCMP_ERROR) continue; /* not a syscall on this architecture */
        /* The calls MemoryDenyWriteExecute= and RestrictAddressFamilies= constrain get their
           own rules below. */
        if (strcmp(name, "mmap") == 0 || strcmp(name, "mprotect") == 0 || strcmp(name, "pkey_mprotect") == 0 ||
            strcmp(name, "shmat") == 0 || strcmp(name, "socket") == 0) continue;
        int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, number, 0);
        if (rc != 0) return fail(name, rc);
        allowed++;
    }
    fclose(list);
    if (allowed < 100) {
        fprintf(stderr, "unit-sandbox: only %d syscalls in %s: is it systemd-analyze's list?\n", allowed, argv[1]);
        return 2;
    }

    int rc = 0;
    /* MemoryDenyWriteExecute=yes */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mmap), 1,
                           SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC, PROT_WRITE | PROT_EXEC));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                           SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC, PROT_WRITE));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                           SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC, PROT_EXEC));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                           SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC, 0));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mprotect), 1,
                           SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                           SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(pkey_mprotect), 1,
                           SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(pkey_mprotect), 1,
                           SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(shmat), 1,
                           SCMP_A2(SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(shmat), 1,
                           SCMP_A2(SCMP_CMP_MASKED_EQ, SHM_EXEC, 0));
    /* RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK */
    const int families[] = {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK};
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, families[i]));
    }
    if (rc != 0) return fail("seccomp_rule_add", rc);

    /* SystemCallArchitectures=native: libseccomp's context holds only the native ABI, and
       a call through another one takes the default action. */
    rc = seccomp_load(ctx);
    if (rc != 0) return fail("seccomp_load", rc);
    seccomp_release(ctx);

    execvp(argv[3], &argv[3]);
    return fail(argv[3], errno);
}
