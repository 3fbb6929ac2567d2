/* Device nodes as containerd reads them: DeviceFromPath (lstat, no symlink
 * following) and getDevices' walk of a directory. */
#pragma once

#include "render.h"
#include "spec.h"

#define DEVICES_MAX 100000
#define DEVICES_DEPTH_MAX 64

/* DeviceFromPath: -ENODEV "not a device node" for anything else. */
int device_from_path(struct render *r, const char *path, struct spec_device *ret);
/* getDevices(path, containerPath): one device, or every device below a
 * directory (skipping pts, shm, fd, mqueue, console, fifos, ...). */
int devices_get(struct render *r, const char *path, const char *container_path, device_slice *ret);
