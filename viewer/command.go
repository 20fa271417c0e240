package viewer

import (
	"errors"
	"fmt"

	"github.com/efferent/efferent/teleop"
)

// Errors of commands this viewer cannot carry out.
var (
	ErrNoTeleop      = errors.New("viewer: no teleop here (this process drives no robot)")
	ErrNoEStop       = errors.New("viewer: no e-stop here (this process drives no robot)")
	ErrNoInstruction = errors.New("viewer: the instruction cannot be changed here")
)

// command carries out one message of an authenticated browser (the
// handshake was: every connection presented the token where one is
// needed). Teleop commands go through the run's teleop gate and then the
// whole safety chain, like the policy's setpoints.
func (v *Viewer) command(c *client, m Inbound) error {
	switch m.Type {
	case OpTeleop:
		mx := v.conf.Teleop
		if mx == nil {
			return ErrNoTeleop
		}
		t := v.conf.Now()
		if err := mx.Command(t, m.Values, m.Source); err != nil {
			return err
		}
		if v.conf.OnTeleop != nil {
			v.conf.OnTeleop(t, mx.Mode(), m.Values, m.Source)
		}
	case OpMode:
		mx := v.conf.Teleop
		if mx == nil {
			return ErrNoTeleop
		}
		mode, err := teleop.ParseMode(m.Mode)
		if err != nil {
			return err
		}
		if mx.Mode() != mode {
			mx.SetMode(mode)
			v.conf.Log.Warn("viewer: teleop mode changed", "mode", mode, "client", c.id, "remote", c.remote)
		}
	case OpEStop:
		if v.conf.EStop == nil {
			return ErrNoEStop
		}
		v.conf.EStop.Trigger(fmt.Sprintf("viewer client %d (%s)", c.id, c.remote))
		v.conf.Log.Warn("e-stop engaged from the viewer", "client", c.id, "remote", c.remote)
	case OpEStopReset:
		if v.conf.EStop == nil {
			return ErrNoEStop
		}
		v.conf.EStop.Reset()
		v.conf.Log.Warn("e-stop released from the viewer", "client", c.id, "remote", c.remote)
	case OpInstruction:
		if v.conf.SetInstruction == nil {
			return ErrNoInstruction
		}
		if err := v.conf.SetInstruction(m.Instruction); err != nil {
			return err
		}
		v.conf.Log.Info("viewer: instruction change asked", "instruction", m.Instruction, "client", c.id)
	}
	return nil
}
