package policy

// Copies counts, for one chunk of one observation, the tensors copied
// between host and accelerator memory: each tensor a graph on the
// accelerator reads from, or writes to, host memory is one copy per run
// of that graph. On the CPU nothing is copied (the zero value).
type Copies struct {
	HostToDevice, DeviceToHost int
	// Resident is how many tensors stay in accelerator memory from one
	// graph or step to the next (a key/value cache), never copied.
	Resident int
	// Memory is the runtime's name of the memory resident tensors live
	// in ("Cuda"); "" on the CPU.
	Memory string
}

// Copier is implemented by a Policy that can say what one chunk copies
// (policy/ort's models), for benchmarks.
type Copier interface {
	Copies() Copies
}
