package cv

/*
#include <malloc.h>
*/
import "C"

// TrimMemory returns the C heap's free memory to the operating system
// (glibc's malloc_trim). OpenCV decodes each image into buffers from the C
// heap; glibc keeps freed ones for reuse, so after a burst of large frames
// the process would otherwise hold its peak. The server calls it (with
// Go's own debug.FreeOSMemory) once no large request is in progress.
func TrimMemory() { C.malloc_trim(0) }
