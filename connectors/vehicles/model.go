package vehicles

import (
	"math"

	"github.com/sluicehq/sluice/runtime"
)

// earthRadius is the mean radius of the Earth, in metres.
const earthRadius = 6371008.8

// Salts of the random draws of a leg; every draw is a hash of (seed,
// vehicle, leg, salt), so a vehicle's path depends on nothing else.
const (
	saltLon = iota + 1
	saltLat
	saltAxis
	saltSpeed
	saltStop
	saltStopLen
)

// vehicle is one simulated vehicle: where it is at the tick it has reached,
// and where it is going.
type vehicle struct {
	num          int64
	lat, lon     float64
	speed        float64 // km/h, driven until the next tick
	target       float64 // km/h, of the current leg
	heading      float64 // degrees, 0 north, 90 east
	leg          int64   // the vehicle drives to waypoint leg
	wlat, wlon   float64 // waypoint leg
	lonFirst     bool    // the leg goes east–west first
	parkedUntil  int64   // first tick the vehicle drives again
	tick         int64   // the tick whose report the state is
	alpha        float64 // easing per tick
	mPerDegLat   float64
	seed         uint64
	smin, smax   float64
	stopP        float64
	stopTicks    int64
	intervalSecs float64
}

// draw returns a uniform number in [0, 1) for (vehicle, leg, salt).
func (v *vehicle) draw(leg int64, salt uint64) float64 {
	h := runtime.HashInt64(v.seed*0x9E3779B97F4A7C15 ^ runtime.HashInt64(uint64(v.num)*0xBF58476D1CE4E5B9^runtime.HashInt64(uint64(leg)<<8|salt)))
	return float64(h>>11) / (1 << 53)
}

// newVehicle returns vehicle num at tick 0: at its waypoint 0, driving to
// waypoint 1.
func newVehicle(cfg *config, num int64) vehicle {
	v := vehicle{num: num, seed: cfg.seed, smin: cfg.smin, smax: cfg.smax, stopP: cfg.stopP,
		stopTicks: cfg.stopTicks, intervalSecs: float64(cfg.intervalMs) / 1000,
		mPerDegLat: earthRadius * math.Pi / 180}
	v.alpha = 1 - math.Exp(-float64(cfg.intervalMs)/float64(easing.Milliseconds()))
	v.lon, v.lat = v.waypoint(cfg.box, 0)
	v.nextLeg(cfg.box)
	v.speed = v.target
	v.heading = v.course()
	return v
}

func (v *vehicle) waypoint(b bbox, leg int64) (lon, lat float64) {
	lon = b.minLon + v.draw(leg, saltLon)*(b.maxLon-b.minLon)
	lat = b.minLat + v.draw(leg, saltLat)*(b.maxLat-b.minLat)
	return lon, lat
}

// nextLeg sets the vehicle on its way to its next waypoint.
func (v *vehicle) nextLeg(b bbox) {
	v.leg++
	v.wlon, v.wlat = v.waypoint(b, v.leg)
	v.lonFirst = v.draw(v.leg, saltAxis) < 0.5
	v.target = v.smin + v.draw(v.leg, saltSpeed)*(v.smax-v.smin)
}

// course is the heading of the segment the vehicle drives on now.
func (v *vehicle) course() float64 {
	dLon, dLat := v.wlon-v.lon, v.wlat-v.lat
	if dLon != 0 && (v.lonFirst || dLat == 0) {
		if dLon > 0 {
			return 90
		}
		return 270
	}
	switch {
	case dLat > 0:
		return 0
	case dLat < 0:
		return 180
	}
	return v.heading
}

// step moves the vehicle from its state at tick v.tick to the next tick.
func (v *vehicle) step(b bbox) {
	t := v.tick
	v.tick++
	if t < v.parkedUntil {
		if v.tick == v.parkedUntil {
			v.speed = v.smin // drives off at the next tick
			if v.smin == 0 {
				v.speed = v.target
			}
		}
		return
	}
	d := v.speed / 3.6 * v.intervalSecs // metres
	if v.lonFirst {
		d = v.moveLon(d)
		d = v.moveLat(d)
	} else {
		d = v.moveLat(d)
		d = v.moveLon(d)
	}
	_ = d // what is left on reaching a waypoint is not driven
	if v.lon == v.wlon && v.lat == v.wlat {
		leg := v.leg
		v.nextLeg(b)
		if v.stopTicks > 0 && v.draw(leg, saltStop) < v.stopP {
			if n := 1 + int64(v.draw(leg, saltStopLen)*float64(v.stopTicks)); n > 0 {
				v.parkedUntil = v.tick + n
				v.speed = 0
				return
			}
		}
	}
	v.heading = v.course()
	v.speed += (v.target - v.speed) * v.alpha
	v.speed = min(max(v.speed, v.smin), v.smax)
}

// moveLon drives up to d metres east or west towards the waypoint and
// returns what is left of d.
func (v *vehicle) moveLon(d float64) float64 {
	if d <= 0 || v.lon == v.wlon {
		return d
	}
	perDeg := v.mPerDegLat * math.Cos(v.lat*math.Pi/180)
	need := math.Abs(v.wlon-v.lon) * perDeg
	if d >= need {
		v.lon = v.wlon
		return d - need
	}
	v.lon += math.Copysign(d/perDeg, v.wlon-v.lon)
	return 0
}

// moveLat drives up to d metres north or south towards the waypoint.
func (v *vehicle) moveLat(d float64) float64 {
	if d <= 0 || v.lat == v.wlat {
		return d
	}
	need := math.Abs(v.wlat-v.lat) * v.mPerDegLat
	if d >= need {
		v.lat = v.wlat
		return d - need
	}
	v.lat += math.Copysign(d/v.mPerDegLat, v.wlat-v.lat)
	return 0
}
