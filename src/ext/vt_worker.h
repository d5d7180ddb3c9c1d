/*
 * vt_worker.h
 *	  The launcher and the per-database flush workers of the fast path.
 */
#ifndef VT_WORKER_H
#define VT_WORKER_H

extern void vt_register_launcher(void);
extern void vt_install_drop_hook(void);

#endif							/* VT_WORKER_H */
